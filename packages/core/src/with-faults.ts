import { failure } from "./errors.js";
import { checkPath } from "./paths.js";
import type {
  BackendProtocol,
  ErrorCode,
  ExecuteResponse,
  FileDownloadResponse,
  FileOperationError,
  FileUploadResponse,
} from "./protocol.js";

/** Every method a fault can target. */
export const FAULT_METHODS = [
  "ls",
  "read",
  "readRaw",
  "write",
  "edit",
  "grep",
  "glob",
  "delete",
  "uploadFiles",
  "downloadFiles",
  "execute",
] as const;

/** A backend method a fault can target. */
export type FaultMethod = (typeof FAULT_METHODS)[number];

/**
 * One fault of a {@link FaultPlan}: which calls fail and how.
 *
 * The fault counts the calls of its `method` (every call for `"*"`): the first `after` pass, the
 * next `times` are faulted, later ones pass again. A faulted call waits `delayMs` first (if given),
 * then throws `throw`, or answers `code`, or, with only `delayMs`, is forwarded late.
 */
export interface Fault {
  /** The method to fault, or `"*"` for every method. */
  method: FaultMethod | "*";
  /** Calls that pass before the first faulted one (default 0). */
  after?: number;
  /** How many calls are faulted (default `Infinity`). */
  times?: number;
  /**
   * The code the faulted call answers, as `{ error, code }` (per entry for `uploadFiles` /
   * `downloadFiles`, in `output` for `execute`). Defaults to `backend_unavailable` unless `delayMs`
   * or `throw` is given.
   */
  code?: ErrorCode;
  /** The sentence answered with `code` (default: names the method and the code). */
  message?: string;
  /** Waits this long before answering or forwarding; an `AbortSignal` in the call's options ends the wait with `aborted`. */
  delayMs?: number;
  /** Makes the call reject with this error, as a buggy backend would. */
  throw?: Error;
}

/** Faults to inject; when several are due on one call, the first in the plan applies. */
export type FaultPlan = readonly Fault[];

/** What a faulty backend counts, for assertions. */
export interface FaultLog {
  /** Calls received per method, faulted or not. */
  readonly calls: Readonly<Record<FaultMethod, number>>;
  /** Calls that were faulted (delayed, failed or thrown). */
  readonly injected: number;
}

/** A backend wrapped by {@link withFaults}: the same API plus its {@link FaultLog}. */
export type FaultyBackend<B extends BackendProtocol> = B & { readonly faults: FaultLog };

/** Where each method takes its options (`signal`), by argument index. */
const OPTIONS_INDEX: Partial<Record<FaultMethod, number>> = { write: 2, edit: 4, execute: 1 };

const FAULT_METHOD_SET: ReadonlySet<string> = new Set(FAULT_METHODS);

function isFaultMethod(name: string | symbol): name is FaultMethod {
  return typeof name === "string" && FAULT_METHOD_SET.has(name);
}

/** The reference's coarse upload/download code for a precise one. */
function coarseCode(code: ErrorCode): FileOperationError {
  return code === "file_not_found" || code === "is_directory" || code === "invalid_path" ? code : "permission_denied";
}

/** Waits `ms`, or less when `signal` aborts; resolves to whether it was aborted. */
function delay(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The answer of a faulted call of `method`, in that method's result shape. */
function faultAnswer(method: FaultMethod, args: unknown[], code: ErrorCode, message: string): unknown {
  if (method === "execute") {
    const response: ExecuteResponse = {
      output: `Error: ${message} (code: ${code})`,
      exitCode: code === "timeout" ? 124 : null,
      truncated: false,
    };
    return response;
  }
  if (method === "uploadFiles" || method === "downloadFiles") {
    const items = Array.isArray(args[0]) ? (args[0] as unknown[]) : [];
    return items.map((item) => {
      const raw = method === "uploadFiles" ? (item as [unknown])[0] : item;
      const checked = typeof raw === "string" ? checkPath(raw) : undefined;
      const path = checked?.ok ? checked.path : String(raw);
      const entry: FileUploadResponse = { path, error: coarseCode(code), code, message: `${message} ('${path}')` };
      return method === "downloadFiles" ? ({ ...entry, content: null } satisfies FileDownloadResponse) : entry;
    });
  }
  return failure(code, message);
}

/**
 * Wraps a backend so that chosen calls fail, hang or throw: for testing what sits on top of a
 * backend (the router, tools, agents) against faults that a real service only produces by chance.
 *
 * The result has the backend's methods, `capabilities`, `id`, `execute` and `close` (everything
 * is forwarded), plus `faults`, which counts the calls. Calls the plan does not fault are forwarded
 * unchanged, with the original backend as `this`.
 *
 * @example
 * ```ts
 * // The 3rd and 4th reads answer backend_unavailable; every grep takes 50 ms longer.
 * const flaky = withFaults(new StateBackend(), [
 *   { method: "read", after: 2, times: 2, code: "backend_unavailable" },
 *   { method: "grep", delayMs: 50 },
 * ]);
 * await flaky.read("/a.txt");
 * expect(flaky.faults.calls.read).toBe(1);
 * ```
 */
export function withFaults<B extends BackendProtocol>(backend: B, plan: FaultPlan): FaultyBackend<B> {
  const faults = plan.map((fault) => ({ fault, seen: 0 }));
  const calls = Object.fromEntries(FAULT_METHODS.map((m) => [m, 0])) as Record<FaultMethod, number>;
  const log = {
    calls,
    injected: 0,
  };
  const wrappers = new Map<FaultMethod, (...args: unknown[]) => Promise<unknown>>();

  /** The fault due on this call of `method`, counting the call for every fault that watches it. */
  const dueFault = (method: FaultMethod): Fault | undefined => {
    let due: Fault | undefined;
    for (const entry of faults) {
      if (entry.fault.method !== "*" && entry.fault.method !== method) continue;
      const index = entry.seen++;
      const after = entry.fault.after ?? 0;
      const times = entry.fault.times ?? Number.POSITIVE_INFINITY;
      if (due === undefined && index >= after && index - after < times) due = entry.fault;
    }
    return due;
  };

  const wrap = (method: FaultMethod, original: (...args: unknown[]) => unknown) => {
    return async (...args: unknown[]): Promise<unknown> => {
      calls[method]++;
      const fault = dueFault(method);
      if (!fault) return original.apply(backend, args);
      log.injected++;
      if (fault.delayMs !== undefined && fault.delayMs > 0) {
        const index = OPTIONS_INDEX[method];
        const options = index === undefined ? undefined : (args[index] as { signal?: AbortSignal } | undefined);
        if (await delay(fault.delayMs, options?.signal)) {
          return faultAnswer(method, args, "aborted", `${method} was aborted while delayed by an injected fault`);
        }
      }
      if (fault.throw) throw fault.throw;
      if (fault.code === undefined && fault.delayMs !== undefined) return original.apply(backend, args);
      const code = fault.code ?? "backend_unavailable";
      return faultAnswer(method, args, code, fault.message ?? `Injected fault: ${method} failed with ${code}`);
    };
  };

  return new Proxy(backend, {
    get(target, prop) {
      if (prop === "faults") return log;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (!isFaultMethod(prop)) return value.bind(target);
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        wrapper = wrap(prop, value as (...args: unknown[]) => unknown);
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
    has(target, prop) {
      return prop === "faults" || Reflect.has(target, prop);
    },
  }) as FaultyBackend<B>;
}
