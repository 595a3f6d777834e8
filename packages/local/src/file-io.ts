import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { withRetry } from "./errors.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** Names of in-flight temp files; listings and searches skip them. */
export const TEMP_NAME = /^\.deepfs-[0-9a-f]{16}\.tmp$/;

/** What {@link readRegularFile} found. */
export type ReadOutcome =
  | { kind: "file"; bytes: Buffer; stats: Stats }
  | { kind: "directory" }
  | { kind: "special" }
  | { kind: "too_large"; size: number };

/**
 * Reads a whole regular file without following a symlink at its final component (`O_NOFOLLOW`
 * fails with ELOOP) and without blocking on a FIFO (`O_NONBLOCK`). Throws Node errors.
 */
export async function readRegularFile(host: string, maxBytes: number): Promise<ReadOutcome> {
  const handle = await withRetry(() => open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) return { kind: "directory" };
    if (!stats.isFile()) return { kind: "special" };
    if (stats.size > maxBytes) return { kind: "too_large", size: stats.size };
    return { kind: "file", bytes: await handle.readFile(), stats };
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `host` with `bytes` atomically: the bytes go to a temp file in the same directory which
 * is then renamed over the target, so readers see the old or the new file, never a part. `mode`
 * (the permission bits of the file being replaced) is kept; new files get the umask default.
 * `rename` replaces a symlink at `host` rather than following it. Returns the new file's stats.
 */
export async function writeFileAtomic(
  host: string,
  bytes: Uint8Array,
  mode: number | undefined,
  fsync: boolean,
): Promise<Stats> {
  const temp = join(dirname(host), `.deepfs-${randomBytes(8).toString("hex")}.tmp`);
  const handle = await withRetry(() => open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666));
  try {
    let stats: Stats;
    try {
      await handle.writeFile(bytes);
      if (mode !== undefined) await handle.chmod(mode);
      if (fsync) await handle.sync();
      stats = await handle.stat();
    } finally {
      await handle.close();
    }
    await rename(temp, host);
    return stats;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Creates a directory and its missing parents. A file in the way surfaces as ENOTDIR. */
export async function makeDirectories(host: string): Promise<void> {
  try {
    await mkdir(host, { recursive: true });
  } catch (error) {
    // mkdir -p reports a file where a directory should be as EEXIST; callers map ENOTDIR.
    if ((error as { code?: string }).code === "EEXIST")
      throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    throw error;
  }
}
