import { isBackend } from "../composite-mounts.js";
import { memberDriver } from "../composite-protocol-driver.js";
import { DeepfsError } from "../errors.js";
import { DriverBackend } from "../kit/facade.js";
import { MemoryBackend } from "../memory-backend.js";
import { checkPath } from "../paths.js";
import type { BackendProtocol } from "../protocol.js";
import {
  type BranchChangesResult,
  branchChanges,
  type CommitOptions,
  type CommitResult,
  commitBranch,
  discardBranch,
} from "./branch-changes.js";
import { BranchDriver } from "./branch-driver.js";

/** Options of {@link BranchBackend}. */
export interface BranchOptions {
  /**
   * Where the branch's writes land (default: a new {@link MemoryBackend}, in this process, so that
   * `changes()` and `commit()` after an agent's run see what the run wrote). Any backend; it should
   * start empty, and the branch should be its only writer: what it holds is what the branch changed.
   * A `StateBackend` here keeps the writes in a LangGraph thread's state instead: only code running
   * inside that thread's run (a tool, a node) then sees them, and commits them.
   */
  upper?: BackendProtocol;
}

/**
 * A copy-on-write branch of a backend, for a subagent's work or a human's review before it reaches
 * the real store. A full backend (the whole contract, written once by {@link DriverBackend}) over a
 * {@link BranchDriver}:
 *
 * - Reads, `ls`, `glob` and `grep` show the base with the branch's changes on top: a file the
 *   branch wrote is read from the upper store, a file or directory it deleted is hidden (a
 *   tombstone hides everything below a deleted directory), everything else falls through to the
 *   base. `grep` uses the base's own search where the branch changed nothing under the searched
 *   directory, else searches the merged view.
 * - `write`, `edit`, `uploadFiles` and `delete` change only the upper store and the tombstones.
 *   The base etag of every file the branch read or changed is recorded (null: absent in the base).
 * - Etags are the branch's own (a file read from the base and the same file once the branch wrote
 *   it have different etags); `ifMatch` / `ifNoneMatch` hold against what the branch shows.
 * - `changes()` lists what the branch added, modified and deleted, with diffs; `commit()` applies
 *   them to the base only where the base still has the version the branch rests on (`ifMatch` on
 *   the recorded etag, `ifNoneMatch: "*"` for added files) and reports every other file as a
 *   conflict, never overwriting; `discard()` drops the branch's changes.
 * - A branch does not execute commands. Tombstones and records live in this object: a branch lasts
 *   as long as it (an upper store that outlives it holds the written files, not the deletions).
 * - Directories are not changes of their own: deleting an empty directory of a base with real
 *   directories hides it in the branch, and a commit leaves it in the base.
 */
export class BranchBackend extends DriverBackend<BranchDriver> {
  /** The backend this branch was made from; a commit changes it. */
  readonly base: BackendProtocol;
  /** Where the branch's writes land. */
  readonly upper: BackendProtocol;

  constructor(base: BackendProtocol, options: BranchOptions = {}) {
    if (!isBackend(base)) {
      throw new DeepfsError("invalid_argument", "A branch needs a base backend (an object with backend methods)");
    }
    const upper = options.upper ?? new MemoryBackend();
    if (!isBackend(upper)) {
      throw new DeepfsError(
        "invalid_argument",
        "A branch's upper store must be a backend (an object with backend methods)",
      );
    }
    super(new BranchDriver(memberDriver(base), memberDriver(upper)));
    this.base = base;
    this.upper = upper;
  }

  /**
   * What the branch added, modified and deleted (files only, sorted by path), each with a unified
   * diff against the base as it is now (`binary, N → M bytes` for binary files) unless `diffs: false`;
   * `paths` limits the answer to changes at or below them.
   */
  changes(options: { diffs?: boolean; paths?: string[] } = {}): Promise<BranchChangesResult> {
    const paths = canonicalPaths(options.paths);
    if (typeof paths === "string") return Promise.resolve({ changes: [], error: paths, code: "invalid_path" });
    return branchChanges(this.driver, { diffs: options.diffs, paths });
  }

  /**
   * Applies the branch's changes (or those at or below `paths`) to the base: each file only if
   * the base still has the version the branch read (`ifMatch`), or still has no file for one the
   * branch added (`ifNoneMatch: "*"`). Applied files leave the branch (it reads them from the base
   * again); the others stay, reported in `conflicts` with the reason. Deletes are applied first.
   * With `merge: "three-way"`, a text file the base changed meanwhile is merged when the two
   * changes touch different lines (listed in `merged`), and stays a conflict with both sides of each
   * overlapping region otherwise.
   */
  commit(options: CommitOptions = {}): Promise<CommitResult> {
    const paths = canonicalPaths(options.paths);
    if (typeof paths === "string") {
      return Promise.resolve({ committed: [], conflicts: [], error: paths, code: "invalid_path" });
    }
    return commitBranch(this.driver, { paths, merge: options.merge });
  }

  /** Drops every change of the branch (the upper store is emptied); it shows the base again. */
  discard(): Promise<void> {
    return discardBranch(this.driver);
  }

  /**
   * The base etag the branch recorded for `path`: a string for a file it read or changed, `null`
   * for a file absent in the base when the branch changed it, `undefined` when it has none.
   */
  recordedEtag(path: string): string | null | undefined {
    const checked = checkPath(path);
    return checked.ok ? this.driver.based.get(checked.path) : undefined;
  }
}

/** A copy-on-write branch of `base`: `branch(base)` is `new BranchBackend(base)`. */
export function branch(base: BackendProtocol, options?: BranchOptions): BranchBackend {
  return new BranchBackend(base, options);
}

/** The canonical forms of a filter's paths, or the sentence of the first invalid one. */
function canonicalPaths(paths: string[] | undefined): string[] | undefined | string {
  if (paths === undefined) return undefined;
  const out: string[] = [];
  for (const path of paths) {
    const checked = checkPath(path);
    if (!checked.ok) return checked.error;
    out.push(checked.path);
  }
  return out;
}
