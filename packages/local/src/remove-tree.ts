import { childPath, openDirectoryIn, type PinnedDirectory } from "./descriptors.js";
import { errnoCode, retrying } from "./errors.js";
import type { HostRoot } from "./host-root.js";
import type { IoMode } from "./io-mode.js";

/** Files of a directory unlinked at once. */
const UNLINK_BATCH = 32;
/** Directories emptied at once beside the one that found them (each holds a descriptor). */
const DIRECTORY_LANES = 8;
/** Times a directory is read and emptied again when files appear in it while it is being removed. */
const EMPTY_ATTEMPTS = 3;

/**
 * Removes `entries` of the pinned directory `parent` (each a directory or not, as readdir or lstat
 * said): files and symlinks are unlinked, directories emptied and removed, all through pinned
 * descriptors (see {@link TreeRemoval}). Resolves or rejects only once every step it started has
 * ended. Without procfs the descriptors' paths are host paths (see `descriptors.ts`): each
 * directory is still opened without following a link and checked, but a swap between that check
 * and the calls by path that follow stays possible there, as with the `fs.rm` this replaces.
 */
export function removeEntries(
  parent: PinnedDirectory,
  entries: Array<{ name: string; directory: boolean }>,
  root: HostRoot,
  io: IoMode,
): Promise<void> {
  const removal = new TreeRemoval(root, io);
  return removal.all(entries.map((entry) => removal.entry(parent, entry.name, entry.directory, true)));
}

/**
 * A recursive delete that never follows a symlink and never reaches outside the root, whatever is
 * swapped into the tree while it runs. Node's `fs.rm({ recursive: true })` walks by path string
 * (`parent/name/child`), so a directory swapped for a symlink to elsewhere between its check and
 * the removal of its children makes it remove the children of the link's target. Here each
 * directory is opened through its pinned parent without following a link (`openDirectoryIn`),
 * checked to lie inside the root, read through its own descriptor, and its entries are unlinked
 * and its subdirectories removed through it; the directory itself is then removed through its
 * parent. An entry that turns into a symlink (or a file) meanwhile is unlinked as what it is:
 * the link goes, its target stays. A directory moved elsewhere inside the root while it is being
 * emptied is emptied there and left in place.
 *
 * After the first failure no new step starts, and the removal answers only once the steps in
 * flight have ended: nothing is removed after the caller has its answer. Entries removed by
 * someone else meanwhile count as removed (ENOENT), except the ones the caller named.
 */
class TreeRemoval {
  private failure: { error: unknown } | undefined;
  private freeLanes = DIRECTORY_LANES;

  constructor(
    private readonly root: HostRoot,
    private readonly io: IoMode,
  ) {}

  /** Waits for every one of `steps`, then rejects with the first failure, if any. */
  async all(steps: Array<Promise<void>>): Promise<void> {
    const settled = await Promise.allSettled(steps);
    for (const step of settled) if (step.status === "rejected") this.failure ??= { error: step.reason };
    if (this.failure) throw this.failure.error;
  }

  /** Removes the entry `name` of `parent` (a directory by readdir's word, or anything else). */
  async entry(parent: PinnedDirectory, name: string, directory: boolean, named = false): Promise<void> {
    try {
      if (!directory) {
        try {
          await this.call(() => this.io.metadata.unlink(childPath(parent.path, name)));
          return;
        } catch (error) {
          // A directory after all (Linux answers EISDIR, macOS EPERM): removed as one below.
          const code = errnoCode(error);
          if (code !== "EISDIR" && code !== "EPERM") throw error;
        }
      }
      await this.directory(parent, name);
    } catch (error) {
      if (named || errnoCode(error) !== "ENOENT") {
        this.failure ??= { error };
        throw error;
      }
    }
  }

  private async directory(parent: PinnedDirectory, name: string): Promise<void> {
    const fs = this.io.metadata;
    const at = childPath(parent.path, name);
    let dir: PinnedDirectory;
    try {
      dir = await this.call(() => openDirectoryIn(parent, name, this.root, fs));
    } catch (error) {
      const code = errnoCode(error);
      // No longer a directory: a symlink or a file swapped in (ENOTDIR, or ELOOP) is unlinked, never followed.
      if (code === "ELOOP" || code === "ENOTDIR") return this.call(() => fs.unlink(at));
      throw error;
    }
    try {
      for (let attempt = 1; ; attempt++) {
        const entries = await this.call(() => retrying(() => fs.readdir(dir.path)));
        const files = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
        const below = entries.filter((e) => e.isDirectory()).map((e) => e.name);
        await this.all([this.files(dir, files), this.subdirectories(dir, below)]);
        try {
          await this.call(() => fs.rmdir(at));
          return;
        } catch (error) {
          const code = errnoCode(error);
          // Swapped for a symlink (or a file) while it was emptied: that goes; the directory,
          // emptied wherever it now is, stays.
          if (code === "ENOTDIR") return await this.call(() => fs.unlink(at));
          // Files created in it meanwhile: read it again, a few times.
          if ((code !== "ENOTEMPTY" && code !== "EEXIST") || attempt === EMPTY_ATTEMPTS) throw error;
        }
      }
    } finally {
      await dir.close();
    }
  }

  /** Unlinks the files (or links) `names` of `dir`, {@link UNLINK_BATCH} at a time. */
  private async files(dir: PinnedDirectory, names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += UNLINK_BATCH) {
      await this.all(names.slice(i, i + UNLINK_BATCH).map((name) => this.entry(dir, name, false)));
    }
  }

  /**
   * Removes the directories `names` of `dir`: each in a lane of its own while one is free, else
   * here, one after another. So at most {@link DIRECTORY_LANES} branches are worked on at once,
   * and the descriptors open are those of their paths from the top, never of a whole level.
   */
  private async subdirectories(dir: PinnedDirectory, names: string[]): Promise<void> {
    const lanes: Array<Promise<void>> = [];
    try {
      for (const name of names) {
        if (this.freeLanes > 0) {
          this.freeLanes--;
          lanes.push(
            this.entry(dir, name, true).finally(() => {
              this.freeLanes++;
            }),
          );
        } else await this.entry(dir, name, true);
      }
    } finally {
      await this.all(lanes);
    }
  }

  /** One filesystem call, unless an earlier one failed; the event loop gets its turns between blocking calls. */
  private async call<T>(run: () => T | Promise<T>): Promise<T> {
    if (this.failure) throw this.failure.error;
    const turn = this.io.pace();
    if (turn) await turn;
    return run();
  }
}
