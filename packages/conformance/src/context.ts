import { randomUUID } from "node:crypto";
import type { BackendCapabilities, BackendProtocol } from "@deepfs/core";
import { checkPath } from "@deepfs/core";
import { it } from "vitest";

/** What `create()` hands the suite: a backend and the directory its test files live under. */
export interface ContractSubject<B extends BackendProtocol = BackendProtocol> {
  backend: B;
  /** Absolute virtual directory every test path is built under (default `/`). */
  root?: string;
  /** Removes whatever this subject created; called after each test, even a failed one. */
  cleanup?: () => void | Promise<void>;
  /**
   * A second instance over the same files, standing for another process (its own pool, client,
   * lock): the suite closes nothing of it beyond calling `cleanup`. With `peers: true`.
   */
  peer?: () => BackendProtocol | Promise<BackendProtocol>;
}

/** Options of `defineBackendContract`. */
export interface BackendContractOptions<B extends BackendProtocol = BackendProtocol> {
  /** Shown in every test name, e.g. `S3Backend`. */
  name: string;
  /** A fresh, isolated backend for one test (or the bare backend when it needs no root or cleanup). */
  create: () => ContractSubject<B> | B | Promise<ContractSubject<B> | B>;
  /** Overrides of `backend.capabilities`: what the suite may expect of this backend. */
  capabilities?: Partial<BackendCapabilities>;
  /**
   * Rule groups to leave out, for a backend run that another run already covers in full (e.g. an
   * embedded database too slow for the heavy groups): `transfer` (large and many blobs) and `scale`
   * (thousands of files, 200,000 entries through a router, a 200,000-line file).
   */
  omit?: Array<"transfer" | "scale">;
  /**
   * `create()` returns subjects with a `peer`: registers the rules for two instances (two
   * processes) changing the same files at once.
   */
  peers?: boolean;
  /**
   * A subject for the tenant `name` of a store that several tenants share (namespaces of one
   * table, key prefixes of one bucket, sibling root directories). The suite calls it with names
   * chosen to trip prefix and pattern matching (`acme`, `acme-corp`, `acm_`, `acme%`, `ac\\me`),
   * and checks that no tenant sees or changes another's files. `run` is fresh for each test: the
   * tenants of one run must share one parent (`${run}/${name}`), each name kept exactly as given.
   */
  tenant?: (name: string, run: string) => ContractSubject<B> | B | Promise<ContractSubject<B> | B>;
  /** A reason to skip the whole suite (e.g. the service is unavailable); printed loudly. */
  skip?: string | undefined;
  /**
   * Multiplies every rule's timeout, for backends whose every call is slow (a sandbox paying one
   * process start per call) or that share a loaded machine. Default 1.
   */
  timeoutScale?: number;
}

/** A capability a rule depends on. */
export type CapabilityName = keyof BackendCapabilities;

/** What each rule's body receives: a fresh backend and the helpers to address its files. */
export interface RuleEnv {
  backend: BackendProtocol;
  /** Normalised absolute root of this test's files. */
  root: string;
  /**
   * A path under the root: `at("/a/b.txt")` is `/a/b.txt` for the root `/` and `/w/t-1/a/b.txt`
   * for `/w/t-1`. The argument is appended as is, so non-normalised forms (`//a//b/`) stay so;
   * `at("/")` is the root itself.
   */
  at(path: string): string;
  /** `at(path)` of a directory as `ls` lists it, with the trailing `/`. */
  dirEntry(path: string): string;
  capabilities: BackendCapabilities;
  /** A second instance over the same files (see `ContractSubject.peer`), when the subject has one. */
  peer?: () => Promise<BackendProtocol>;
}

export interface RuleOptions {
  /** Per-test timeout in ms (default {@link DEFAULT_TIMEOUT}). */
  timeout?: number;
  /** Skip the rule unless the backend has this capability. */
  needs?: CapabilityName;
}

/** Registration handle passed to every `register…` function. */
export interface ContractContext {
  readonly name: string;
  /** Registers one contract rule as a test that runs on a fresh subject and cleans it up. */
  rule(title: string, body: (env: RuleEnv) => Promise<void>, options?: RuleOptions): void;
  /**
   * Registers a rule that runs on two fresh subjects at once (two tenants: two `create()` calls)
   * and cleans up both.
   */
  pairRule(title: string, body: (first: RuleEnv, second: RuleEnv) => Promise<void>, options?: RuleOptions): void;
  /**
   * Registers a rule on the subjects `tenant(name, run)` gives for `names` (one run), when the
   * backend offers `tenant`; the bodies receive them in the order of `names`.
   */
  tenantRule(
    title: string,
    names: readonly string[],
    body: (tenants: RuleEnv[]) => Promise<void>,
    options?: RuleOptions,
  ): void;
}

/** Generous enough for a network backend seeding a small tree. */
export const DEFAULT_TIMEOUT = 30_000;
/** For the bulk-transfer and scale rules. */
export const HEAVY_TIMEOUT = 180_000;

const NO_CAPABILITIES: BackendCapabilities = {
  execute: false,
  nativeGrep: false,
  conditionalWrites: false,
  realDirectories: false,
  readOnly: false,
};

function isBackend(value: unknown): value is BackendProtocol {
  return typeof value === "object" && value !== null && typeof (value as { ls?: unknown }).ls === "function";
}

async function openSubject<B extends BackendProtocol>(
  options: BackendContractOptions<B>,
  create: BackendContractOptions<B>["create"] = options.create,
): Promise<Required<Omit<ContractSubject<B>, "peer">> & Pick<ContractSubject<B>, "peer">> {
  const created = await create();
  const subject: ContractSubject<B> = isBackend(created) ? { backend: created } : created;
  const checked = checkPath(subject.root ?? "/");
  if (!checked.ok) throw new Error(`${options.name}: create() returned an invalid root: ${checked.error}`);
  return { backend: subject.backend, root: checked.path, cleanup: subject.cleanup ?? (() => {}), peer: subject.peer };
}

function envFor(
  subject: Pick<ContractSubject, "backend" | "peer"> & { root: string },
  capabilities: BackendCapabilities,
): RuleEnv {
  const { root } = subject;
  const at = (path: string) => {
    if (path === "/") return root;
    return root === "/" ? path : `${root}${path}`;
  };
  return {
    backend: subject.backend,
    root,
    at,
    dirEntry: (path) => `${at(path)}/`,
    capabilities,
    peer: subject.peer ? async () => (subject.peer as NonNullable<ContractSubject["peer"]>)() : undefined,
  };
}

/** Builds the registration handle for one backend. */
export function createContractContext<B extends BackendProtocol>(options: BackendContractOptions<B>): ContractContext {
  /** Registers a test on `count` fresh subjects, skipped when one lacks the capability the rule needs. */
  function register(
    title: string,
    count: number,
    body: (envs: RuleEnv[]) => Promise<void>,
    ruleOptions: RuleOptions,
    create: (index: number, run: string) => ReturnType<BackendContractOptions<B>["create"]> = () => options.create(),
  ): void {
    const { needs } = ruleOptions;
    const timeout = (ruleOptions.timeout ?? DEFAULT_TIMEOUT) * (options.timeoutScale ?? 1);
    // A rule for a capability declared absent up front does not apply: it is not registered at all,
    // so that it is not reported as a skipped test.
    if (needs !== undefined && options.capabilities?.[needs] === false) return;
    it(
      title,
      async (test) => {
        const subjects: Array<Awaited<ReturnType<typeof openSubject<B>>>> = [];
        try {
          const run = `run-${randomUUID().slice(0, 8)}`;
          for (let i = 0; i < count; i++) subjects.push(await openSubject(options, () => create(i, run)));
          const envs = subjects.map((subject) =>
            envFor(subject, { ...NO_CAPABILITIES, ...subject.backend.capabilities, ...options.capabilities }),
          );
          if (needs && !envs.every((env) => env.capabilities[needs])) {
            test.skip(`${options.name} does not have the capability '${needs}'`);
            return;
          }
          await body(envs);
        } finally {
          for (const subject of subjects) await subject.cleanup();
        }
      },
      timeout,
    );
  }
  return {
    name: options.name,
    rule(title, body, ruleOptions = {}) {
      register(title, 1, ([env]) => body(env as RuleEnv), ruleOptions);
    },
    pairRule(title, body, ruleOptions = {}) {
      register(title, 2, ([first, second]) => body(first as RuleEnv, second as RuleEnv), ruleOptions);
    },
    tenantRule(title, names, body, ruleOptions = {}) {
      const { tenant } = options;
      if (!tenant) return;
      register(title, names.length, body, ruleOptions, (i, run) => tenant(names[i] as string, run));
    },
  };
}
