import { readlink, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { lstatIn } from "./descriptors.js";
import { errnoCode } from "./errors.js";
import { type FsCalls, threadpoolFs } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";

/**
 * deepagents' realpath hook (deepagentsjs main, `backends/realpath.ts`): a backend that may alias
 * paths (symlinks) publishes under this key a function `(path) => string | Promise<string>` that
 * answers the path an operation on `path` would actually touch, and deepagents' filesystem
 * middleware checks its permission rules on that path as well as on the one the agent wrote.
 */
export const DEEPAGENTS_REALPATH = Symbol.for("deepagents.realpath");

/** Links followed through dangling symlinks before giving up (Linux's MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/**
 * The real location that the host path `host` names: symlinks resolved in every existing component,
 * a dangling symlink followed to where it points, missing trailing names kept as given (what a write
 * would create). Throws Node errors (ELOOP, EACCES, ...).
 */
export async function resolveHostPath(host: string): Promise<string> {
  const missing: string[] = [];
  let anchor = host;
  let hops = 0;
  for (;;) {
    try {
      return join(await realpath(anchor), ...missing);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      const link = await readlink(anchor).catch(() => null);
      if (link !== null) {
        if (++hops > MAX_SYMLINK_HOPS) throw Object.assign(new Error("too many symbolic links"), { code: "ELOOP" });
        anchor = resolve(dirname(anchor), link);
        continue;
      }
      const parent = dirname(anchor);
      if (parent === anchor) throw error;
      missing.unshift(basename(anchor));
      anchor = parent;
    }
  }
}

/**
 * The real host path of the regular file that the symlink `host` points to, when that file is
 * inside the root; null otherwise (dangling, looping, outside, a directory or a special file).
 * `ls`, `glob`, `grep` and `read` all follow such links, and only such links, so that the four
 * agree: a link to a file inside the root is that file under the link's name. Links to
 * directories are listed by `ls` and followed by a path through them, but never descended into by
 * `glob` or `grep` (deepagents does the same), which keeps walks free of loops.
 */
export async function linkedRegularFile(
  host: string,
  root: HostRoot,
  fs: FsCalls = threadpoolFs,
): Promise<string | null> {
  try {
    const real = await fs.realpath(host);
    if (!root.contains(real)) return null;
    // A real path has no symlink in it: lstat of it is the stat of what the link points to. Through
    // its directory's checked descriptor: a directory on the way swapped for a symlink since
    // realpath tells nothing of where that leads.
    const [target] = await lstatIn(dirname(real), [basename(real)], fs);
    return target?.isFile() ? real : null;
  } catch {
    return null;
  }
}
