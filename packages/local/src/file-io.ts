import { randomUUID } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { errnoCode, withRetry } from "./errors.js";
import type { FsCalls } from "./fs-calls.js";
import type { IoMode } from "./io-mode.js";

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
export async function readRegularFile(host: string, maxBytes: number, io: IoMode): Promise<ReadOutcome> {
  const fs = io.metadata;
  const fd = await withRetry(() => fs.open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  try {
    const stats = await fs.fstat(fd);
    if (stats.isDirectory()) return { kind: "directory" };
    if (!stats.isFile()) return { kind: "special" };
    if (stats.size > maxBytes) return { kind: "too_large", size: stats.size };
    return { kind: "file", bytes: await io.forContent(stats.size).readAll(fd, stats.size), stats };
  } finally {
    await fs.close(fd);
  }
}

/**
 * Replaces `host` with `bytes` atomically: the bytes go to a temp file in the same directory which
 * is then renamed over the target, so readers see the old or the new file, never a part. `rename`
 * replaces a symlink at `host` rather than following it.
 *
 * `previous`: the stats of the regular file being replaced; its permission bits are kept and the
 * new file's stats are returned (a new inode: callers track its creation time). Null: a new file
 * (umask default mode), created with any missing parent directories (found by a failing open,
 * which saves a mkdir per write into an existing directory); returns null.
 */
export async function writeFileAtomic(
  host: string,
  bytes: Uint8Array,
  previous: Stats | null,
  fsync: boolean,
  fs: FsCalls,
): Promise<Stats | null> {
  const dir = dirname(host);
  const temp = join(dir, `.deepfs-${randomHex16()}.tmp`);
  const create = () => withRetry(() => fs.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666));
  let fd: number;
  try {
    fd = await create();
  } catch (error) {
    if (previous || errnoCode(error) !== "ENOENT") throw error;
    await makeDirectories(dir, fs);
    fd = await create();
  }
  try {
    let stats: Stats | null = null;
    try {
      await fs.writeAll(fd, bytes);
      if (previous) await fs.fchmod(fd, previous.mode & 0o7777);
      if (fsync) await fs.fsync(fd);
      if (previous) stats = await fs.fstat(fd);
    } finally {
      await fs.close(fd);
    }
    await fs.rename(temp, host);
    return stats;
  } catch (error) {
    try {
      await fs.unlink(temp);
    } catch {
      // Gone already or not removable: the write's own error is the one to report.
    }
    throw error;
  }
}

/** 64 random bits as 16 hex digits; randomUUID draws from a pooled buffer, several times cheaper than randomBytes. */
function randomHex16(): string {
  const uuid = randomUUID();
  // Version 4 layout: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx; these 16 digits are all random.
  return uuid.slice(0, 4) + uuid.slice(24);
}

/** Creates a directory and its missing parents. A file in the way surfaces as ENOTDIR. */
export async function makeDirectories(host: string, fs: FsCalls): Promise<void> {
  try {
    await fs.mkdirp(host);
  } catch (error) {
    // mkdir -p reports a file where a directory should be as EEXIST; callers map ENOTDIR.
    if ((error as { code?: string }).code === "EEXIST")
      throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    throw error;
  }
}
