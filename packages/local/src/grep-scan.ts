import { isUtf8 } from "node:buffer";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { type GrepMatch, grepFileText, grepFileUtf8 } from "@deepfs/core";
import { isOpenInside, isOpenInsideSync, rootDevice } from "./descriptors.js";
import { readRegularFile } from "./file-io.js";
import { threadpoolFs } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The searchable bytes of a file (its own copy), null when grep skips it, or a promise of either. */
export type ScanResult = Buffer | null | Promise<Buffer | null>;

/**
 * Reads files for grep and gives the searchable bytes of each under the core rule, or null when
 * grep must skip it: not a regular file, over the size limit, containing NUL, or not valid UTF-8.
 * Files without the needle (the pattern's UTF-8 bytes, when it has them) are skipped at once:
 * UTF-8 is self-synchronising, so byte containment equals string containment for valid text.
 * {@link GrepFileScanner.matches} then decodes only the matching lines, so an answer never holds
 * a slice of a whole decoded file (which kept every matching file's text alive: 260 MB of heap
 * for `return` over 15,756 real files, against 78 MB).
 *
 * The same guarantees as every read of the backend: the final component is opened without
 * following a symlink and without blocking on a FIFO, and what was opened is checked, through the
 * descriptor, to lie inside the root before a byte of it is used: a file of the root's filesystem
 * is read first and asked only when grep would search it (one without the needle, or binary,
 * answers nothing wherever it lies); any other file is asked before it is read. When the backend makes small
 * calls blocking (`syncIoMaxBytes` > 0), a file is opened, checked and stat'ed with blocking calls
 * (no threadpool round trips) and, when it is no larger than that, read into one reused buffer;
 * larger contents, and every call of a backend with `syncIoMaxBytes: 0`, go through the threadpool.
 */
export class GrepFileScanner {
  private scratch = Buffer.allocUnsafeSlow(64 * 1024);
  private readonly needle: Buffer | null;
  /**
   * The root's filesystem, read once per grep: only its files are read before being asked where
   * they lie (here and, through `scanJob`, in the workers).
   */
  readonly rootDev: number;

  constructor(
    private readonly pattern: string,
    private readonly maxBytes: number,
    private readonly root: HostRoot,
    private readonly io: IoMode,
  ) {
    // A pattern that reaches a driver is well-formed (one with a lone surrogate matches nothing and
    // is answered by the facade), so a non-empty one has a UTF-8 form.
    this.needle = pattern.length > 0 ? Buffer.from(pattern, "utf8") : null;
    this.rootDev = rootDevice(root);
  }

  /** The file at `host`: its bytes, null, or a promise of either (large files, or no procfs). */
  scan(host: string): ScanResult {
    if (this.io.syncMaxBytes === 0) return this.scanThroughThreadpool(host);
    let fd: number;
    try {
      fd = openSync(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch {
      // Gone, a symlink, or a transient error (EMFILE...): the threadpool path retries and decides.
      return this.scanThroughThreadpool(host);
    }
    let handedOver = false;
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile() || stats.size > this.maxBytes) return null;
      // A file on another filesystem than the root's (procfs, sysfs, a mount) is asked where it lies
      // before anything of it is read, as are files read through the threadpool.
      const foreign = !this.root.unbounded && stats.dev !== this.rootDev;
      if (foreign || stats.size === 0 || stats.size > this.io.syncMaxBytes) {
        handedOver = true;
        return this.finishThroughThreadpool(fd, host, stats.size);
      }
      const bytes = this.searchable(this.readInto(fd, stats.size));
      // Where a file of the root's filesystem lies is asked only once grep would search it, before
      // any of its bytes is used: one without the needle answers nothing wherever it lies.
      if (bytes === null) return null;
      const inside = isOpenInsideSync(fd, this.root);
      if (inside === false) return null;
      if (inside === undefined) {
        handedOver = true;
        return this.finishThroughThreadpool(fd, host, stats.size);
      }
      // The reused buffer is read again by the next scan: a searchable file gets a copy of its own.
      return Buffer.from(bytes);
    } catch {
      return null;
    } finally {
      if (!handedOver) closeQuietly(fd);
    }
  }

  /** The matches in the searchable bytes of a file (from {@link scan}), at most `limit`. */
  matches(path: string, bytes: Buffer, limit: number): GrepMatch[] {
    // The empty pattern matches every line: each line is in the answer, so decoding all is due.
    return this.needle
      ? grepFileUtf8(path, bytes, this.needle, limit)
      : grepFileText(path, bytes.toString("utf8"), this.pattern, limit);
  }

  /** `bytes` when grep searches them, else null (see the class). */
  private searchable(bytes: Buffer): Buffer | null {
    if (this.needle && bytes.indexOf(this.needle) === -1) return null;
    if (bytes.indexOf(0) !== -1 || !isUtf8(bytes)) return null;
    return bytes;
  }

  /** Up to `size` bytes from the start of `fd`, in the reused buffer (valid until the next read). */
  private readInto(fd: number, size: number): Buffer {
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(Math.max(size, this.scratch.length * 2));
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, this.scratch, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return this.scratch.subarray(0, filled);
  }

  /** The rest of {@link scan} for a file opened and stat'ed already. */
  private async finishThroughThreadpool(fd: number, host: string, size: number) {
    try {
      if (!(await isOpenInside(fd, host, this.root, threadpoolFs))) return null;
      const bytes = await threadpoolFs.readAll(fd, size);
      return bytes.length > this.maxBytes ? null : this.searchable(bytes);
    } catch {
      return null;
    } finally {
      closeQuietly(fd);
    }
  }

  private async scanThroughThreadpool(host: string): Promise<Buffer | null> {
    try {
      // Through the threadpool: the read-ahead overlaps many reads, and a search must not hold the event loop.
      const read = await readRegularFile(host, this.maxBytes, IoMode.threadpool, this.root);
      return read.kind === "file" ? this.searchable(read.bytes) : null;
    } catch {
      // Vanished, unreadable, swapped for a symlink or moved outside the root since the listing: not searchable.
      return null;
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Closing a read-only descriptor cannot lose data; nothing to report.
  }
}
