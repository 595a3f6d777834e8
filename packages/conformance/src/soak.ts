import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, hostname } from "node:os";
import { dirname, join } from "node:path";
import type { BackendCapabilities, BackendProtocol } from "@deepfs/core";
import { checkPath, encodeUtf8 } from "@deepfs/core";
import { expect, it } from "vitest";
import { type AuditResult, auditFinalState } from "./soak-audit.js";
import { SoakLog } from "./soak-log.js";
import { processProbes, type ResourceProbe } from "./soak-probes.js";
import { auditTrailAgainstJournal, auditVersionChains, journaled, MutationJournal } from "./soak-versions.js";
import { initialTree, runAgents, soakLayout } from "./soak-workload.js";

export { activeResources, processProbes, type ResourceProbe, socketsToPort } from "./soak-probes.js";

/** What `create()` hands a soak: a backend, where its files go, and how to release everything. */
export interface SoakSubject<B extends BackendProtocol = BackendProtocol> {
  backend: B;
  /** Absolute virtual directory the soak's tree is built under (default `/`); should be empty. */
  root?: string;
  /**
   * Closes the backend and everything `create()` opened for it (pool, client, container) and
   * removes its files. Called once after the audit, even when the run failed; the final resource
   * counts are taken after it.
   */
  close: () => void | Promise<void>;
}

/** Options of {@link defineSoak}. */
/** What the soak reads of an audit event (`AuditEvent` of `withAudit` has these fields). */
export interface AuditedChange {
  path: string;
  operation: string;
  outcome: string;
  etagAfter: string | null;
}

export interface SoakOptions<B extends BackendProtocol = BackendProtocol> {
  /** Shown in the test name and the summary, e.g. `S3Backend`. */
  name: string;
  /** Name of the results file `.soak-results/<id>.json` (default: `name` in kebab case). */
  id?: string;
  create: () => SoakSubject<B> | Promise<SoakSubject<B>>;
  /** Length of the run; default `DEEPFS_SOAK_SECONDS` from the environment, else 60. */
  seconds?: number;
  /** Concurrent simulated agents. Default 50. */
  agents?: number;
  /** Backend-specific counts (pool connections, containers, temp files) on top of the process's own. */
  probes?: ResourceProbe[];
  /** Overrides of `backend.capabilities` (the register operations need `conditionalWrites`). */
  capabilities?: Partial<BackendCapabilities>;
  /** A reason to skip the soak (the service is unavailable); printed loudly. */
  skip?: string | undefined;
  /**
   * The backend keeps history without retention: after the run, each file's versions must be
   * exactly its acknowledged mutations (one version each, same operation and etag), none for a
   * refused one (see soak-versions.ts).
   */
  versions?: boolean;
  /**
   * The audit trail of the backend (`withAudit`'s events, as collected by the test): after the run
   * it must hold one `done` event per acknowledged mutation, with its etag, none for a refused one.
   */
  auditEvents?: () => ReadonlyArray<AuditedChange> | Promise<ReadonlyArray<AuditedChange>>;
  /** Time allowed beyond the run for set-up, warm-up, audit and close, in seconds. Default 180. */
  overheadSeconds?: number;
}

/** The summary of one soak, printed and written to `.soak-results/<id>.json`. */
export interface SoakReport {
  name: string;
  date: string;
  machine: { host: string; cpus: number; node: string; platform: string };
  seconds: number;
  agents: number;
  seed: number;
  operations: number;
  operationsPerSecond: number;
  operationsByKind: Record<string, number>;
  acknowledgedWrites: number;
  conflicts: Record<string, number>;
  errors: Record<string, number>;
  errorMessages: string[];
  violations: number;
  violationMessages: string[];
  lost: number;
  audit: AuditResult | null;
  resources: Record<string, { baseline: number; before: number; after: number; limit: number; ok: boolean }>;
  /** With `versions`: the files whose version chains were checked, and their versions. */
  versionChains?: { paths: number; versions: number } | null;
  /** With `auditEvents`: the files whose audit trail was checked, and its `done` events. */
  auditTrail?: { paths: number; events: number } | null;
  /** Milliseconds the final counts took to reach their limits after the close (idle sockets closing). */
  settledAfterMs: number;
  passed: boolean;
}

/** The default length of a soak: `DEEPFS_SOAK_SECONDS`, else the 60 s of the reliability campaign. */
export function soakSeconds(): number {
  const fromEnv = Number(process.env.DEEPFS_SOAK_SECONDS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 60;
}

/** Agents that start together: enough for every pool to open all its connections before the first count. */
const WARM_UP_CALLS = 50;
/** How long the final counts may take to come down (Node closes idle keep-alive sockets after 5 s). */
const SETTLE_MS = 10_000;

/**
 * Registers one vitest test that runs `agents` simulated agents (default 50) against a fresh
 * backend for `seconds` (default `DEEPFS_SOAK_SECONDS` or 60), then audits the final state against
 * the log of acknowledged operations and counts resources before and after.
 *
 * The agents work back to back (the backend's own concurrency sets the pace) on overlapping files:
 * shared ledgers they append to with `edit`, shared registers they compare-and-swap with `ifMatch`,
 * shared boards they replace with `uploadFiles` while others `edit` and read them (an upload is an
 * acknowledged write that no racing edit may undo), private files they write, read, edit, delete, list and grep, and read-only traffic over the shared
 * tree. The test fails on any lost acknowledged write, any error other than an expected `conflict`,
 * any read that contradicts the log, and any resource count that grew.
 *
 * @example
 * ```ts
 * defineSoak({
 *   name: "S3Backend",
 *   create: () => {
 *     const backend = new S3Backend({ bucket, prefix: `soak-${randomUUID()}`, endpointUrl });
 *     return { backend, close: () => backend.close() };
 *   },
 *   probes: [{ name: "sockets to S3", count: () => socketsToPort(9000), max: 0 }],
 * });
 * ```
 */
export function defineSoak<B extends BackendProtocol>(options: SoakOptions<B>): void {
  const seconds = options.seconds ?? soakSeconds();
  const agents = options.agents ?? 50;
  const title = `${options.name}: ${agents} agents for ${seconds} s lose no acknowledged write and leak nothing`;
  if (options.skip !== undefined) {
    console.warn(`\n[deepfs-soak] SKIPPING ${options.name}: ${options.skip}\n`);
    it.skip(`${title} (skipped: ${options.skip})`, () => {});
    return;
  }
  it(title, () => runSoak(options, seconds, agents), (seconds + (options.overheadSeconds ?? 180)) * 1000);
}

async function count(probes: ResourceProbe[]): Promise<number[]> {
  const counts: number[] = [];
  for (const probe of probes) counts.push(await probe.count());
  return counts;
}

async function runSoak<B extends BackendProtocol>(options: SoakOptions<B>, seconds: number, agents: number) {
  const probes = [...processProbes(), ...(options.probes ?? [])];
  const baseline = await count(probes);
  const subject = await options.create();
  const checked = checkPath(subject.root ?? "/");
  if (!checked.ok) throw new Error(`${options.name}: create() returned an invalid root: ${checked.error}`);
  const layout = soakLayout(checked.path, agents);
  const log = new SoakLog();
  const seed = Date.now() % 1_000_000;
  const capabilities = { ...subject.backend.capabilities, ...options.capabilities };
  const journal = options.versions || options.auditEvents ? new MutationJournal() : undefined;
  const backend = journal ? journaled(subject.backend, journal) : subject.backend;
  let chains: SoakReport["versionChains"] = null;
  let trail: SoakReport["auditTrail"] = null;
  let audit: AuditResult | null = null;
  let before: number[] = [];
  const after: number[] = [];
  const started = Date.now();
  let finished = started;
  let closeError: unknown;
  try {
    const seeded = await backend.uploadFiles(initialTree(layout).map(([p, text]) => [p, encodeUtf8(text)]));
    const failed = seeded.filter((entry) => entry.error !== null);
    if (failed.length > 0)
      throw new Error(`${options.name}: seeding the soak tree failed: ${JSON.stringify(failed[0])}`);
    await warmUp(backend, layout.registers);
    before = await count(probes);
    const start = Date.now();
    await runAgents(
      {
        backend,
        layout,
        log,
        runTag: randomBytes(4).toString("hex"),
        seed,
        start,
        deadline: start + seconds * 1000,
        conditionalWrites: capabilities.conditionalWrites === true,
      },
      agents,
    );
    finished = Date.now();
    audit = await auditFinalState(subject.backend, layout, log);
    if (journal && options.versions) chains = await auditVersionChains(subject.backend, journal, log);
    if (journal && options.auditEvents) trail = auditTrailAgainstJournal(await options.auditEvents(), journal, log);
    for (const [i, probe] of probes.entries()) if (probe.phase === "after-run") after[i] = await probe.count();
  } finally {
    try {
      await subject.close();
    } catch (error) {
      closeError = error;
    }
  }
  const settledAfterMs = await settle(probes, before, after);
  const report = buildReport(options, { seconds, agents, seed, log, audit, probes, baseline, before, after });
  report.operationsPerSecond = Math.round(log.opCount / Math.max(0.001, (finished - started) / 1000));
  report.settledAfterMs = settledAfterMs;
  report.versionChains = chains;
  report.auditTrail = trail;
  report.passed = passed(report) && closeError === undefined;
  console.log(summaryLine(report));
  writeReport(options.id ?? kebab(options.name), report);

  expect(closeError, "closing the subject").toBeUndefined();
  expect(report.errors, `unexplained errors, first ones: ${report.errorMessages.join(" | ")}`).toEqual({});
  expect(report.lost, "acknowledged writes lost").toBe(0);
  expect(report.violationMessages, `${report.violations} violation(s) of the log`).toEqual([]);
  for (const [name, r] of Object.entries(report.resources)) {
    expect(
      r.after,
      `${name}: ${r.before} after the warm-up, ${r.after} at the end (limit ${r.limit})`,
    ).toBeLessThanOrEqual(r.limit);
  }
  expect(report.operations, "the agents did something").toBeGreaterThan(agents);
  if (options.versions) expect(chains?.versions, "versions checked").toBeGreaterThan(0);
  if (options.auditEvents) expect(trail?.events, "audit events checked").toBeGreaterThan(0);
}

/** Calls enough at once for pools to open their connections, so the first count sees them. */
async function warmUp(backend: BackendProtocol, registers: string[]): Promise<void> {
  const calls: Array<Promise<unknown>> = [];
  for (let i = 0; i < WARM_UP_CALLS; i++)
    calls.push(Promise.resolve(backend.read(registers[i % registers.length] as string)));
  const results = (await Promise.all(calls)) as Array<{ error?: string }>;
  const failed = results.find((r) => r.error !== undefined);
  if (failed) throw new Error(`warm-up read failed: ${failed.error}`);
}

/** Takes the final after-close counts, retrying until they are within their limits or time is up. */
async function settle(probes: ResourceProbe[], before: number[], after: number[]): Promise<number> {
  const start = Date.now();
  for (;;) {
    let ok = true;
    for (const [i, probe] of probes.entries()) {
      if (probe.phase === "after-run") continue;
      after[i] = await probe.count();
      if ((after[i] as number) > limitOf(probe, before[i] ?? 0)) ok = false;
    }
    if (ok || Date.now() - start > SETTLE_MS) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function limitOf(probe: ResourceProbe, before: number): number {
  return probe.max ?? before + (probe.tolerance ?? 0);
}

interface ReportInput {
  seconds: number;
  agents: number;
  seed: number;
  log: SoakLog;
  audit: AuditResult | null;
  probes: ResourceProbe[];
  baseline: number[];
  before: number[];
  after: number[];
}

function buildReport(options: SoakOptions<BackendProtocol>, input: ReportInput): SoakReport {
  const { log, audit, probes } = input;
  const resources: SoakReport["resources"] = {};
  for (const [i, probe] of probes.entries()) {
    const before = input.before[i] ?? Number.NaN;
    const after = input.after[i] ?? Number.NaN;
    const limit = limitOf(probe, before);
    resources[probe.name] = { baseline: input.baseline[i] ?? Number.NaN, before, after, limit, ok: after <= limit };
  }
  return {
    name: options.name,
    date: new Date().toISOString(),
    machine: { host: hostname(), cpus: cpus().length, node: process.version, platform: process.platform },
    seconds: input.seconds,
    agents: input.agents,
    seed: input.seed,
    operations: log.opCount,
    operationsPerSecond: 0,
    operationsByKind: Object.fromEntries([...log.ops].sort()),
    acknowledgedWrites: log.acknowledgedWrites,
    conflicts: Object.fromEntries(log.conflicts),
    errors: Object.fromEntries(log.errors),
    errorMessages: log.errorMessages,
    violations: log.violations,
    violationMessages: log.violationMessages,
    lost: audit?.lost ?? Number.NaN,
    audit,
    resources,
    settledAfterMs: 0,
    passed: false,
  };
}

function passed(report: SoakReport): boolean {
  return (
    report.audit !== null &&
    report.lost === 0 &&
    Object.keys(report.errors).length === 0 &&
    report.violations === 0 &&
    Object.values(report.resources).every((r) => r.ok)
  );
}

function summaryLine(r: SoakReport): string {
  const kinds = Object.entries(r.operationsByKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const conflicts = Object.entries(r.conflicts)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const errors = Object.entries(r.errors)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const resources = Object.entries(r.resources)
    .map(([name, x]) => `${name} ${x.before}→${x.after}${x.ok ? "" : ` (limit ${x.limit}!)`}`)
    .join(", ");
  return (
    `[deepfs-soak] ${r.name}: ${r.passed ? "PASS" : "FAIL"} ${r.seconds} s, ${r.agents} agents, ` +
    `${r.operations} ops (${r.operationsPerSecond}/s: ${kinds}); acknowledged writes ${r.acknowledgedWrites}; ` +
    `conflicts ${Object.values(r.conflicts).reduce((a, b) => a + b, 0)} (${conflicts || "none"}); ` +
    `errors ${errors || "0"}; violations ${r.violations}; lost ${r.lost}; ` +
    (r.versionChains ? `version chains ${r.versionChains.paths} files, ${r.versionChains.versions} versions; ` : "") +
    (r.auditTrail ? `audit trail ${r.auditTrail.paths} files, ${r.auditTrail.events} events; ` : "") +
    `resources before→after: ${resources}`
  );
}

function kebab(name: string): string {
  return name
    .replace(/[^a-zA-Z0-9]+/g, "-")
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/^-|-$/g, "")
    .toLowerCase();
}

/** `<repo>/.soak-results` (the directory holding pnpm-workspace.yaml above the cwd), or `DEEPFS_SOAK_RESULTS_DIR`. */
function resultsDir(): string {
  if (process.env.DEEPFS_SOAK_RESULTS_DIR) return process.env.DEEPFS_SOAK_RESULTS_DIR;
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return join(dir, ".soak-results");
    if (dirname(dir) === dir) return join(process.cwd(), ".soak-results");
  }
}

function writeReport(id: string, report: SoakReport): void {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.json`), `${JSON.stringify(report, null, 2)}\n`);
}
