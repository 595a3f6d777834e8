/**
 * The version-chain audit of a soak with history on: every mutation the agents made is recorded as
 * it is answered, and after the run each file's history must hold exactly one version per
 * acknowledged mutation (same operation, same etag), none for a refused one, and at most one for a
 * mutation whose outcome is unknown (an outage). A lost version, a duplicate, a version of a
 * refused write or a version with the wrong operation is a violation.
 */
import type { BackendProtocol, FileVersion, HistoryProtocol, VersionOp } from "@deepfs/core";
import { type ErrorCode, hasHistoryMethods, REFUSAL_CODES } from "@deepfs/core";
import type { SoakLog } from "./soak-log.js";

/** What one path's mutations were answered, by the operation its versions are recorded as. */
interface PathMutations {
  /** Acknowledged mutations per op, with the etag each answered (undefined when it gave none). */
  acknowledged: Array<{ op: VersionOp; etag: string | undefined }>;
  /** Mutations with an unknown outcome (an outage or an exception), per op. */
  uncertain: Map<VersionOp, number>;
}

/** Every mutation of a soak by path, as answered. */
export class MutationJournal {
  readonly paths = new Map<string, PathMutations>();

  private of(path: string): PathMutations {
    let entry = this.paths.get(path);
    if (!entry) {
      entry = { acknowledged: [], uncertain: new Map() };
      this.paths.set(path, entry);
    }
    return entry;
  }

  /** Records one mutation's answer: `code` undefined for success, `"threw"` for an exception. */
  record(path: string, op: VersionOp, code: string | undefined, etag?: string): void {
    const entry = this.of(path);
    if (code === undefined) entry.acknowledged.push({ op, etag });
    else if (!REFUSAL_CODES.has(code as ErrorCode)) entry.uncertain.set(op, (entry.uncertain.get(op) ?? 0) + 1);
    // A refusal adds nothing: the path is journaled, so a version made by it shows as one too many.
  }
}

const MUTATIONS = new Set(["write", "edit", "delete", "uploadFiles"]);

/**
 * `backend` with every `write`, `edit`, `delete` and `uploadFiles` recorded in `journal` as it is
 * answered; everything else (history methods included) is the backend's own.
 */
export function journaled<B extends BackendProtocol>(backend: B, journal: MutationJournal): B {
  return new Proxy(backend, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (typeof name !== "string" || !MUTATIONS.has(name)) return value.bind(target);
      return async (...args: unknown[]) => {
        const path = args[0];
        const op: VersionOp = name === "uploadFiles" ? "upload" : (name as VersionOp);
        let answer: unknown;
        try {
          answer = await value.apply(target, args);
        } catch (error) {
          if (name === "uploadFiles") {
            for (const [file] of path as Array<[string, Uint8Array]>) journal.record(file, op, "threw");
          } else journal.record(path as string, op, "threw");
          throw error;
        }
        if (name === "uploadFiles") {
          for (const [i, response] of (answer as Array<{ path: string; error: unknown; code?: string }>).entries()) {
            const file = (path as Array<[string, Uint8Array]>)[i]?.[0] ?? response.path;
            journal.record(file, op, response.error === null ? undefined : (response.code ?? "unknown"));
          }
        } else {
          const result = answer as { error?: string; code?: string; etag?: string };
          const failed = typeof result.error === "string" && result.error !== "";
          journal.record(path as string, op, failed ? (result.code ?? "unknown") : undefined, result.etag);
        }
        return answer;
      };
    },
  });
}

/** `items` grouped by op. */
function byOp<T extends { op: VersionOp }>(items: readonly T[]): Map<VersionOp, T[]> {
  const out = new Map<VersionOp, T[]>();
  for (const item of items) {
    const list = out.get(item.op);
    if (list) list.push(item);
    else out.set(item.op, [item]);
  }
  return out;
}

/** Compares each path's history with the journal; every mismatch is a violation in `log`. */
export async function auditVersionChains(
  backend: BackendProtocol,
  journal: MutationJournal,
  log: SoakLog,
): Promise<{ paths: number; versions: number }> {
  if (!hasHistoryMethods(backend)) {
    log.violation("the soak checks version chains, but the backend has no history methods");
    return { paths: 0, versions: 0 };
  }
  const history = backend as BackendProtocol & HistoryProtocol;
  let versions = 0;
  for (const [path, mutations] of journal.paths) {
    const answer = await history.history(path);
    if (answer.error !== undefined || !answer.versions) {
      log.violation(`history of ${path} failed: ${answer.code ?? answer.error}`);
      continue;
    }
    versions += answer.versions.length;
    checkChain(path, mutations, answer.versions, log);
  }
  return { paths: journal.paths.size, versions };
}

/**
 * Compares an audit trail (`withAudit`'s events) with the journal: for each path and operation,
 * one `done` event per acknowledged mutation with its etag after, none for a refused one, at most
 * one for a mutation whose outcome is unknown; and no event of a path the agents never changed.
 */
export function auditTrailAgainstJournal(
  events: ReadonlyArray<{ path: string; operation: string; outcome: string; etagAfter: string | null }>,
  journal: MutationJournal,
  log: SoakLog,
): { paths: number; events: number } {
  const done = new Map<string, Array<{ op: VersionOp; etag: string }>>();
  let count = 0;
  for (const event of events) {
    if (event.outcome !== "done" || event.operation === "execute") continue;
    count++;
    const list = done.get(event.path) ?? [];
    list.push({ op: event.operation as VersionOp, etag: event.etagAfter ?? "" });
    done.set(event.path, list);
  }
  for (const path of done.keys()) {
    if (!journal.paths.has(path)) log.violation(`${path}: audit events for a path no agent changed`);
  }
  for (const [path, mutations] of journal.paths) checkChain(path, mutations, done.get(path) ?? [], log, "audit event");
  return { paths: journal.paths.size, events: count };
}

function checkChain(
  path: string,
  mutations: PathMutations,
  versions: ReadonlyArray<Pick<FileVersion, "op" | "etag">>,
  log: SoakLog,
  noun = "version",
): void {
  const recorded = byOp(versions);
  const acknowledged = byOp(mutations.acknowledged);
  const ops = new Set<VersionOp>([...recorded.keys(), ...acknowledged.keys(), ...mutations.uncertain.keys()]);
  for (const op of ops) {
    const have = recorded.get(op) ?? [];
    const acked = acknowledged.get(op) ?? [];
    const most = acked.length + (mutations.uncertain.get(op) ?? 0);
    if (have.length < acked.length) {
      log.violation(`${path}: ${acked.length} acknowledged ${op}(s) but ${have.length} ${op} ${noun}(s)`);
    } else if (have.length > most) {
      log.violation(`${path}: ${have.length} ${op} ${noun}(s) for ${acked.length} acknowledged, ${most} at most`);
    }
    // Each acknowledged etag is one version's (identical contents may share an etag: count them).
    const left = new Map<string, number>();
    for (const v of have) left.set(v.etag, (left.get(v.etag) ?? 0) + 1);
    for (const { etag } of acked) {
      if (etag === undefined) continue;
      const n = left.get(etag) ?? 0;
      if (n === 0) log.violation(`${path}: an acknowledged ${op} answered an etag no ${op} ${noun} has`);
      else left.set(etag, n - 1);
    }
  }
}
