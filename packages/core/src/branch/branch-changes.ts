/**
 * What a branch changed, and how it reaches the base: `changes`, `commit` and `discard` of
 * {@link BranchBackend}, over the {@link BranchDriver}'s records. A commit never overwrites a
 * change someone else made to the base: every write to the base is conditional on the etag the
 * branch recorded (`ifNoneMatch: "*"` for a file the base did not have).
 */
import { writeTo } from "../composite-router.js";
import { diffContents } from "../diff.js";
import { type DriverFile, type Fault, isFault, isPromiseLike, type WriteCall } from "../kit/driver.js";
import { describeFault } from "../kit/messages.js";
import { diffableText } from "../line-diff.js";
import { type MergeConflictRegion, mergeTexts } from "../merge-text.js";
import { comparePaths, isWithin } from "../paths.js";
import type { ErrorCode } from "../protocol.js";
import { type BranchDriver, filesBelow, isAbsent } from "./branch-driver.js";

/** How a file differs between the branch and its base. */
export type BranchChangeKind = "added" | "modified" | "deleted";

/** One file the branch changed. */
export interface BranchChange {
  path: string;
  change: BranchChangeKind;
  /**
   * A unified diff against the base as it is now (`binary, N → M bytes` for binary files); absent
   * when diffs were not asked for.
   */
  diff?: string;
}

/** The answer of `changes()`. */
export interface BranchChangesResult {
  changes: BranchChange[];
  error?: string;
  code?: ErrorCode;
}

/** A change `commit()` did not apply, because the base changed it meanwhile or refused it. */
export interface CommitConflict {
  path: string;
  /** Why, as a sentence (names the path, never its contents). */
  reason: string;
  /**
   * With `merge: "three-way"`, where the branch's and the base's changes overlap: both sides of
   * each overlapping region (the file itself is left as it was, in the base and in the branch).
   */
  regions?: MergeConflictRegion[];
}

/** The answer of `commit()`. */
export interface CommitResult {
  /** Paths now in the base as the branch had them (or merged with the base's changes); they left the branch. */
  committed: string[];
  /** With `merge: "three-way"`: the committed paths whose text was merged with changes made in the base meanwhile. */
  merged?: string[];
  /** Paths left in the branch, with the reason. */
  conflicts: CommitConflict[];
  error?: string;
  code?: ErrorCode;
}

/** Which changes to apply. */
export interface CommitOptions {
  /** Only changes at or below these paths (default: all). */
  paths?: string[];
  /**
   * `"none"` (default): a file the base changed since the branch read it is a conflict, all or
   * nothing. `"three-way"`: such a text file is merged from the base's version the branch started
   * from (its ancestor), as `git merge-file` does, when the two changes touch different lines; where
   * they overlap it stays a conflict, with both sides in `regions`.
   */
  merge?: "none" | "three-way";
}

/** A change as found: its kind, the base etag it rests on, and the branch's content (null for a delete). */
interface Pending {
  path: string;
  change: BranchChangeKind;
  based: string | null;
  after: DriverFile | null;
}

/** The branch's change of `path` now (null: none), read from the upper store and the records. */
async function pendingAt(d: BranchDriver, path: string): Promise<Pending | null | Fault> {
  const after = await d.upper.read(path, { whole: true });
  // A directory in the upper store where the branch deleted a base file: that file's delete.
  if (isFault(after) && !isAbsent(after) && after.fault !== "is_directory") return after;
  let based = d.based.get(path);
  if (based === undefined) {
    // A file the upper store had before the branch saw it: it rests on the base as it is now.
    const now = await d.baseEtagNow(path, {});
    if (isFault(now)) return now;
    based = now;
  }
  if (!isFault(after)) {
    if ("window" in after) return null;
    return { path, change: based === null ? "added" : "modified", based, after };
  }
  return based !== null && d.isHidden(path) ? { path, change: "deleted", based, after: null } : null;
}

/** Every path the branch may have changed under the filter, sorted. */
async function candidates(d: BranchDriver, selects: (path: string) => boolean): Promise<string[]> {
  const out = new Set<string>();
  for (const path of d.changed) if (selects(path)) out.add(path);
  for await (const entry of filesBelow(d.upper, "/", {})) if (selects(entry.path)) out.add(entry.path);
  return [...out].sort(comparePaths);
}

/** The filter of `paths` (every path when absent). */
function selector(paths: string[] | undefined): (path: string) => boolean {
  if (paths === undefined) return () => true;
  return (path) => paths.some((p) => isWithin(path, p));
}

/** What the branch added, modified and deleted, with diffs unless `diffs: false`. */
export async function branchChanges(
  d: BranchDriver,
  options: { diffs?: boolean; paths?: string[] } = {},
): Promise<BranchChangesResult> {
  const changes: BranchChange[] = [];
  for (const path of await candidates(d, selector(options.paths))) {
    const pending = await pendingAt(d, path);
    if (isFault(pending)) return { changes, ...failure("read", path, pending) };
    if (pending === null) continue;
    const change: BranchChange = { path, change: pending.change };
    if (options.diffs !== false) {
      const before = pending.change === "added" ? null : await d.base.read(path, { whole: true });
      if (before !== null && isFault(before) && !isAbsent(before)) return { changes, ...failure("read", path, before) };
      const old = before === null || isFault(before) || "window" in before ? null : before.content;
      change.diff = diffContents(path, old, pending.after?.content ?? null);
    }
    changes.push(change);
  }
  return { changes };
}

/**
 * Applies the branch's changes to the base, deletes first (so that a file may replace a deleted
 * directory), each under the branch's lock of its path and as the branch has it at that moment.
 */
export async function commitBranch(d: BranchDriver, options: CommitOptions = {}): Promise<CommitResult> {
  const selects = selector(options.paths);
  const merge = options.merge === "three-way";
  const result: CommitResult = { committed: [], conflicts: [] };
  const paths = await candidates(d, selects);
  const reported = new Set<string>();
  for (const pass of ["deletes", "writes"] as const) {
    for (const path of paths) {
      if (reported.has(path)) continue;
      const outcome = await d.lock.runScoped({ keys: [path] }, () => commitOne(d, path, pass, merge));
      if (outcome === "skipped") continue;
      reported.add(path);
      if (outcome === "committed" || outcome === "merged") result.committed.push(path);
      else result.conflicts.push({ path, ...outcome });
      if (outcome === "merged") result.merged = [...(result.merged ?? []), path];
    }
  }
  pruneTombstones(d, selects);
  return result;
}

/** Drops every change of the branch: its upper files, tombstones and records. */
export async function discardBranch(d: BranchDriver): Promise<void> {
  await d.lock.runScoped({ prefixes: ["/"] }, async () => {
    const paths: string[] = [];
    for await (const entry of filesBelow(d.upper, "/", {})) paths.push(entry.path);
    for (const path of paths) await d.upper.remove(path, {});
    d.hidden.clear();
    d.based.clear();
    d.changed.clear();
    d.ancestors.clear();
  });
}

/** What committing one path came to: applied (or merged), not this pass's (or no change), or why not. */
type Outcome = "committed" | "merged" | "skipped" | { reason: string; regions?: MergeConflictRegion[] };

/** Applies the change of one path if it belongs to `pass`: what happened, or why it could not be applied. */
async function commitOne(d: BranchDriver, path: string, pass: "deletes" | "writes", merge: boolean): Promise<Outcome> {
  const pending = await pendingAt(d, path);
  if (isFault(pending)) return { reason: describeFault("read", path, pending) };
  if (pending === null) {
    // A file the branch added and deleted again is no change: forget it.
    if (!d.based.get(path)) forget(d, path);
    return "skipped";
  }
  if ((pending.after === null) !== (pass === "deletes")) return "skipped";
  const refused = pending.after === null ? await deleteInBase(d, path, pending.based) : await writeInBase(d, pending);
  let merged = false;
  if (refused !== null) {
    if (!merge || pending.after === null || refused !== changedInBase(path)) return { reason: refused };
    const outcome = await mergeIntoBase(d, pending);
    if (outcome !== "merged") return outcome;
    merged = true;
  }
  if (pending.after !== null) {
    const removed = await d.upper.remove(path, {});
    if (isFault(removed) && !isAbsent(removed)) return { reason: describeFault("delete", path, removed) };
  }
  forget(d, path);
  return merged ? "merged" : "committed";
}

/** Writes the branch's content to the base if the base still has the version the branch rests on. */
async function writeInBase(d: BranchDriver, pending: Pending): Promise<string | null> {
  const { path, based, after } = pending;
  const call: WriteCall = based === null ? { ifNoneMatch: "*" } : { ifMatch: based };
  const written = await writeTo(d.base, path, (after as DriverFile).content, call);
  if (!isFault(written)) return null;
  if (written.fault !== "conflict") return describeFault("write", path, written);
  if (written.reason === "exists") return `'${path}' was created in the base after the branch created it`;
  if (written.reason === "missing") return `'${path}' was deleted in the base after the branch read it`;
  return changedInBase(path);
}

/** The conflict of a file the base changed since the branch read it (the one a three-way merge may resolve). */
function changedInBase(path: string): string {
  return `'${path}' was changed in the base after the branch read it`;
}

/** Attempts at a merge when the base keeps changing under it. */
const MERGE_ATTEMPTS = 5;

/**
 * Merges the branch's text of a file with the base's text now, from the ancestor the branch kept,
 * and writes the result to the base on condition that the base has not changed again (else tries
 * again, a few times). Binary files, files without a kept ancestor and overlapping changes stay conflicts.
 */
async function mergeIntoBase(
  d: BranchDriver,
  pending: Pending,
): Promise<"merged" | { reason: string; regions?: MergeConflictRegion[] }> {
  const { path } = pending;
  const ours = pending.after === null ? null : diffableText(pending.after.content);
  const ancestor = d.ancestors.get(path);
  const changed = changedInBase(path);
  if (ours === null || ancestor === undefined) {
    return { reason: `${changed}, and cannot be merged (binary, or too large to keep its ancestor)` };
  }
  for (let attempt = 0; attempt < MERGE_ATTEMPTS; attempt++) {
    const now = await d.base.read(path, { whole: true });
    if (isFault(now)) {
      if (isAbsent(now)) return { reason: `'${path}' was deleted in the base after the branch read it` };
      return { reason: describeFault("read", path, now) };
    }
    const theirs = "window" in now ? null : diffableText(now.content);
    if (theirs === null) return { reason: `${changed}, and cannot be merged (the base's version is binary)` };
    const merged = mergeTexts(ancestor, ours, theirs);
    if (!merged.ok && merged.reason === "too_complex") {
      return { reason: `${changed}, and the changes are too large to merge line by line` };
    }
    if (!merged.ok) {
      const count = merged.conflicts.length;
      return {
        reason: `${changed}, and ${count} region${count === 1 ? "" : "s"} of it changed on both sides`,
        regions: merged.conflicts,
      };
    }
    const written = await writeTo(d.base, path, merged.merged, { ifMatch: now.etag ?? "" });
    if (!isFault(written)) return "merged";
    if (written.fault !== "conflict") return { reason: describeFault("write", path, written) };
  }
  return { reason: `${changed}, and kept changing while it was merged` };
}

/**
 * Deletes `path` from the base if it still has the version the branch deleted. The contract's
 * delete has no precondition, so this checks the etag, then deletes: a change another writer
 * makes to the file between the check and the delete is deleted with it. For a base whose driver
 * answers at once (in memory) the check and the delete run in one turn and nothing can come
 * between them; for every other store that window (one round trip) remains.
 */
async function deleteInBase(d: BranchDriver, path: string, based: string | null): Promise<string | null> {
  const pending = d.base.stat(path, {});
  const stat = isPromiseLike(pending) ? await pending : pending;
  if (isFault(stat)) return isAbsent(stat) ? null : describeFault("delete", path, stat);
  // Already gone: what the branch wanted, and nobody's change is lost.
  if (stat.kind === "none") return null;
  if (stat.kind !== "file" || (stat.etag ?? "") !== based) return changedInBase(path);
  const removed = await d.base.remove(path, {});
  if (isFault(removed) && !isAbsent(removed)) return describeFault("delete", path, removed);
  return null;
}

/** The branch no longer holds anything of `path`: it reads it from the base again. */
function forget(d: BranchDriver, path: string): void {
  d.changed.delete(path);
  d.ancestors.delete(path);
  d.based.delete(path);
  d.hidden.delete(path);
}

/** Drops the tombstones (in the committed area) with no uncommitted change below them. */
function pruneTombstones(d: BranchDriver, selects: (path: string) => boolean): void {
  for (const t of [...d.hidden]) {
    if (!selects(t)) continue;
    let pending = false;
    for (const path of d.changed) if (isWithin(path, t)) pending = true;
    if (!pending) d.hidden.delete(t);
  }
}

function failure(op: "read", path: string, f: Fault): { error: string; code: ErrorCode } {
  return { error: describeFault(op, path, f), code: f.fault };
}
