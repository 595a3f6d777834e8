/**
 * `withTelemetry(backend)`: one OpenTelemetry span per backend operation, through
 * `@opentelemetry/api` only. With no tracer provider registered the API hands out non-recording
 * spans, and the layer computes no attribute for them: the cost is one no-op span per call.
 *
 * Spans are made per public operation (what the agent asked: `deepfs.edit`, `deepfs.grep`), not per
 * store call: an edit is a read and a conditional write underneath, and a router fans a grep out to
 * each route; wrapping the members of a router as well gives those inner spans as children.
 */

import { type BackendProtocol, checkPath } from "@deepfs/core";
import { type Attributes, context, type Span, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";

/** Options of {@link withTelemetry}. */
export interface TelemetryOptions {
  /** The tracer to use. Default: `trace.getTracer("@deepfs/telemetry")` of the global provider. */
  tracer?: Tracer;
  /**
   * Record the canonical path (`deepfs.path`) and pattern (`deepfs.pattern`) of each call. Off by
   * default: paths can name customers or secrets. File contents, commands and error messages are
   * never recorded.
   */
  recordPaths?: boolean;
  /** The `deepfs.backend` attribute. Default: the backend's class name (`PostgresBackend`). */
  backendKind?: string;
}

/** The operations that get a span, with the index of their path argument (-1: none). */
const OPERATIONS: Record<string, number> = {
  ls: 0,
  read: 0,
  readRaw: 0,
  write: 0,
  edit: 0,
  grep: 1,
  glob: 1,
  delete: 0,
  uploadFiles: -1,
  downloadFiles: -1,
  execute: -1,
  history: 0,
  readVersion: 0,
  restore: 0,
  snapshot: -1,
  changesSince: -1,
  restoreSnapshot: -1,
  changes: -1,
  commit: -1,
  discard: -1,
};

const encoder = new TextEncoder();
const byteLength = (value: unknown): number =>
  typeof value === "string" ? encoder.encode(value).byteLength : value instanceof Uint8Array ? value.byteLength : 0;

/** The route of `path` on a router (its longest matching prefix), "default" for its default backend. */
function routeOf(backend: object, path: string): string | undefined {
  const prefixes = (backend as { routePrefixes?: unknown }).routePrefixes;
  if (!Array.isArray(prefixes)) return undefined;
  let best: string | undefined;
  for (const prefix of prefixes as string[]) {
    const bare = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
    if ((path === bare || path.startsWith(`${bare}/`)) && (best === undefined || prefix.length > best.length)) {
      best = prefix;
    }
  }
  return best ?? "default";
}

/** What the call sends: bytes written and files given. */
function inputAttributes(method: string, args: unknown[]): Attributes {
  switch (method) {
    case "write":
      return { "deepfs.bytes_in": byteLength(args[1]) };
    case "edit":
      return { "deepfs.bytes_in": byteLength(args[2]) };
    case "uploadFiles": {
      const files = Array.isArray(args[0]) ? (args[0] as Array<[string, Uint8Array]>) : [];
      return {
        "deepfs.file_count": files.length,
        "deepfs.bytes_in": files.reduce((sum, entry) => sum + byteLength(entry?.[1]), 0),
      };
    }
    case "downloadFiles":
      return { "deepfs.file_count": Array.isArray(args[0]) ? args[0].length : 0 };
    default:
      return {};
  }
}

/** The result code of an answer: "ok", its `code`, or "error" for an error without one. */
function resultCode(answer: unknown): string {
  if (answer === null || typeof answer !== "object" || Array.isArray(answer)) return "ok";
  const { error, code } = answer as { error?: unknown; code?: unknown };
  if (typeof error === "string" && error !== "") return typeof code === "string" ? code : "error";
  return "ok";
}

/** What the answer holds: bytes read, matches and files found, an exit code. */
function outputAttributes(method: string, answer: unknown): Attributes {
  const out: Attributes = {};
  if (Array.isArray(answer)) {
    // uploadFiles / downloadFiles: entries with an `error` each.
    const entries = answer as Array<{ error?: unknown; content?: unknown }>;
    const failed = entries.filter((e) => e?.error !== null && e?.error !== undefined).length;
    out["deepfs.failed_count"] = failed;
    if (method === "downloadFiles") {
      out["deepfs.bytes_out"] = entries.reduce((sum, e) => sum + byteLength(e?.content), 0);
    }
    return out;
  }
  if (answer === null || typeof answer !== "object") return out;
  const a = answer as Record<string, unknown>;
  if (method === "read" && typeof a.content === "string") out["deepfs.bytes_out"] = byteLength(a.content);
  const data = a.data as { content?: unknown } | undefined;
  if (data && (method === "readRaw" || method === "readVersion")) out["deepfs.bytes_out"] = byteLength(data.content);
  if (Array.isArray(a.files)) out["deepfs.file_count"] = a.files.length;
  if (Array.isArray(a.matches)) out["deepfs.match_count"] = a.matches.length;
  if (Array.isArray(a.versions)) out["deepfs.version_count"] = a.versions.length;
  if (Array.isArray(a.changes)) out["deepfs.change_count"] = a.changes.length;
  if (typeof a.exitCode === "number") out["deepfs.exit_code"] = a.exitCode;
  if (typeof a.truncated === "boolean") out["deepfs.truncated"] = a.truncated;
  if (typeof a.occurrences === "number") out["deepfs.occurrences"] = a.occurrences;
  return out;
}

function finish(span: Span, method: string, answer: unknown): void {
  const code = resultCode(answer);
  span.setAttributes({ "deepfs.result": code, ...outputAttributes(method, answer) });
  // The code, never the message: messages name paths.
  if (code !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  span.end();
}

/**
 * `backend` with one span per operation, named `deepfs.<method>` (`deepfs.write`, `deepfs.grep`),
 * with the attributes `deepfs.backend`, `deepfs.operation`, `deepfs.route` (on a router: the
 * route's prefix or "default"), `deepfs.result` ("ok" or the error code), `deepfs.bytes_in`,
 * `deepfs.bytes_out`, `deepfs.file_count`, `deepfs.match_count` and friends, and with
 * `recordPaths` the canonical `deepfs.path`. An answer with an error sets the span's status to
 * ERROR with the code as its message; an exception is recorded by type only.
 *
 * Everything else of the backend (capabilities, `close`, extension methods) is passed through
 * unchanged, so the result can go wherever the backend could: a router, `createDeepAgent`, another layer.
 */
export function withTelemetry<B extends BackendProtocol>(backend: B, options: TelemetryOptions = {}): B {
  const tracer = options.tracer ?? trace.getTracer("@deepfs/telemetry");
  const kind = options.backendKind ?? (backend as object).constructor?.name ?? "backend";
  const recordPaths = options.recordPaths === true;
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(backend, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (typeof name !== "string" || !(name in OPERATIONS)) return value.bind(target);
      const cached = wrapped.get(name);
      if (cached && (cached as { original?: unknown }).original === value) return cached;
      const pathIndex = OPERATIONS[name] as number;
      const traced = function (this: unknown, ...args: unknown[]) {
        const span = tracer.startSpan(`deepfs.${name}`);
        // No provider registered (or a sampler said no): the call goes straight through.
        if (!span.isRecording()) {
          span.end();
          return value.apply(target, args);
        }
        return context.with(trace.setSpan(context.active(), span), () => {
          const attributes: Attributes = {
            "deepfs.backend": kind,
            "deepfs.operation": name,
            ...inputAttributes(name, args),
          };
          const raw = pathIndex >= 0 ? args[pathIndex] : undefined;
          const checked =
            typeof raw === "string"
              ? checkPath(raw)
              : typeof raw === "undefined" && pathIndex > 0
                ? checkPath("/")
                : null;
          if (checked?.ok) {
            const route = routeOf(target, checked.path);
            if (route !== undefined) attributes["deepfs.route"] = route;
            if (recordPaths) attributes["deepfs.path"] = checked.path;
          }
          if (recordPaths && (name === "grep" || name === "glob") && typeof args[0] === "string") {
            attributes["deepfs.pattern"] = args[0];
          }
          span.setAttributes(attributes);
          let answer: unknown;
          try {
            answer = value.apply(target, args);
          } catch (error) {
            fail(span, error);
            throw error;
          }
          if (answer !== null && typeof (answer as PromiseLike<unknown>)?.then === "function") {
            return (answer as Promise<unknown>).then(
              (settled) => {
                finish(span, name, settled);
                return settled;
              },
              (error: unknown) => {
                fail(span, error);
                throw error;
              },
            );
          }
          finish(span, name, answer);
          return answer;
        });
      };
      (traced as { original?: unknown }).original = value;
      wrapped.set(name, traced);
      return traced;
    },
  });
}

/** An exception: recorded by its type (and deepfs code), never its message, which may name paths. */
function fail(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown })?.code;
  span.setAttributes({ "deepfs.result": typeof code === "string" ? code : "exception", "exception.type": type });
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === "string" ? code : type });
  span.end();
}
