import { randomUUID } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { basename, dirname } from "node:path";
import { internalTempName } from "@deepfs/core";
import { isOpenInside, outsideRootError, pinDirectory } from "./descriptors.js";
import { retrying } from "./errors.js";
import type { FsCalls } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";
import type { IoMode } from "./io-mode.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** What {@link readRegularFile} found. */
export type ReadOutcome =
  | { kind: "file"; bytes: Buffer; stats: Stats }
  | { kind: "directory" }
  | { kind: "special" }
  | { kind: "too_large"; size: number };

/**
 * Reads a whole regular file without following a symlink at its final component (`O_NOFOLLOW`
 * fails with ELOOP) and without blocking on a FIFO (`O_NONBLOCK`). What was opened is checked
 * through the descriptor before anything about it is used, so a parent swapped for a symlink to
 * the outside after the path was resolved yields {@link outsideRootError}, never a byte. Throws
 * Node errors.
 */
export async function readRegularFile(
  host: string,
  maxBytes: number,
  io: IoMode,
  root: HostRoot,
): Promise<ReadOutcome> {
  const fs = io.metadata;
  const fd = await retrying(() => fs.open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  try {
    if (!(await isOpenInside(fd, host, root, fs))) throw outsideRootError();
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
 * replaces a symlink at `host` rather than following it. The temp file has an internal name
 * (core's `internalTempName`) that no user path can name.
 *
 * The directory is pinned first ({@link pinDirectory}: opened, checked to lie inside the root, and
 * created one level at a time when missing); the temp file is created and renamed through the pin,
 * so the file lands in the directory that was checked even if a parent is swapped for a symlink
 * meanwhile, and no file outside the root is ever replaced.
 *
 * `previous`: the stats of the regular file being replaced; its permission bits are kept and the
 * new file's stats are returned (a new inode: callers track its creation time). Null: a new file
 * (umask default mode), created with any missing parent directories; returns null, or its stats
 * with `stat` (the history records them, to know the file unchanged at its next open).
 */
export async function writeFileAtomic(
  host: string,
  bytes: Uint8Array,
  previous: Stats | null,
  fsync: boolean,
  fs: FsCalls,
  root: HostRoot,
  stat = false,
): Promise<Stats | null> {
  // Missing parents are made for a new file only: a replaced file's directory deleted meanwhile stays deleted.
  const dir = await pinDirectory(dirname(host), root, fs, previous === null);
  try {
    const temp = `${dir.path}/${internalTempName(randomHex16())}`;
    const fd = await retrying(() => fs.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666));
    try {
      let stats: Stats | null = null;
      try {
        await fs.writeAll(fd, bytes);
        if (previous) await fs.fchmod(fd, previous.mode & 0o7777);
        if (fsync) await fs.fsync(fd);
        if (previous || stat) stats = await fs.fstat(fd);
      } finally {
        await fs.close(fd);
      }
      await fs.rename(temp, `${dir.path}/${basename(host)}`);
      return stats;
    } catch (error) {
      try {
        await fs.unlink(temp);
      } catch {
        // Gone already or not removable: the write's own error is the one to report.
      }
      throw error;
    }
  } finally {
    await dir.close();
  }
}

/** 64 random bits as 16 hex digits; randomUUID draws from a pooled buffer, several times cheaper than randomBytes. */
function randomHex16(): string {
  const uuid = randomUUID();
  // Version 4 layout: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx; these 16 digits are all random.
  return uuid.slice(0, 4) + uuid.slice(24);
}
