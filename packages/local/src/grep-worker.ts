import type * as fsModule from "node:fs";

/** One batch of files for {@link scanFiles}: host paths in search order and the search. */
export interface ScanJob {
  hosts: string[];
  /** The pattern's UTF-8 bytes: non-empty, from a well-formed string without `\n`. */
  needle: Uint8Array;
  /** Largest file searched, in bytes. */
  maxBytes: number;
  /** Matches kept per file at most (the search keeps `maxCount + 1` in all). */
  limit: number;
  /** Matches the batch keeps at most: the room left in the answer's bounds when it was sent. */
  room: number;
  /** UTF-16 code units of matching lines the batch keeps at most; past them it stops (over the bound). */
  textRoom: number;
  /** Shared with the caller, nonzero once its grep stopped: no further file is searched. */
  stop?: Int32Array;
  /** The root's real host path; `/` for none. Every opened file must lie inside it. */
  rootBase: string;
  /**
   * The device of the root's filesystem (`st_dev`), NaN when unknown: only a file on it is read
   * before it is asked where it lies (see {@link scanFiles}).
   */
  rootDev: number;
  /** open(2) flags: read-only, no following a final symlink, no blocking on a FIFO. */
  openFlags: number;
}

/**
 * What {@link scanFiles} says of each file: skipped (`null`: gone, not a regular file, outside the
 * root, too large, binary, not UTF-8, or no match), `"retry"` (a transient open error, or a file
 * that reports no size: the caller reads it another way), or the 1-based numbers of its matching
 * lines, whose texts are the next ones of the batch's `text`.
 */
export type FileScan = null | "retry" | number[];

/**
 * The answer for one batch: a scan per file, and the texts of every matching line of the batch in
 * order, as UTF-8 joined by `\n` (a line never holds one), in a buffer of its own (transferable).
 */
export interface BatchScan {
  scans: FileScan[];
  text: Uint8Array;
}

/** What {@link scanFiles} needs, passed in so that its source runs alone in a worker. */
export interface ScanDeps {
  fs: Pick<typeof fsModule, "openSync" | "closeSync" | "fstatSync" | "readSync" | "readlinkSync">;
  isUtf8: (bytes: Uint8Array) => boolean;
  /** What a worker keeps from batch to batch ({@link newScanState}). */
  state: ScanState;
}

/** What a worker keeps from batch to batch. */
export interface ScanState {
  /** The bytes of a file of at most 1 MiB (most files). */
  small: Buffer;
  /**
   * The bytes of a larger file: made once, as large as the files grep searches (up to 16 MiB; a
   * larger file replaces it) and kept, so that only the pages read into count and no freed block
   * is left behind: a buffer grown by doubling left its smaller ones to glibc's malloc, which kept
   * them. (A resizable buffer shrunk after each large file, which returns its pages at once, saved
   * about 10 MB of RSS but made a rare word's grep over real code 15-30% slower: each large file
   * then reads into fresh pages.)
   */
  large?: Buffer;
  /** Buffers that earlier batches' texts came in, handed back once decoded: a batch writes its texts into the largest. */
  spares: ArrayBuffer[];
}

/**
 * Keeps `buffer`, handed back to a worker, among its spares: at most `max`, the largest (a batch
 * writes into the largest, so a smaller one is what goes). Self-contained: the workers run its source.
 */
export function keepSpare(spares: ArrayBuffer[], buffer: ArrayBuffer, max: number): void {
  if (spares.length < max) {
    spares.push(buffer);
    return;
  }
  let smallest = 0;
  for (let i = 1; i < spares.length; i++) {
    if ((spares[i] as ArrayBuffer).byteLength < (spares[smallest] as ArrayBuffer).byteLength) smallest = i;
  }
  if ((spares[smallest] as ArrayBuffer).byteLength < buffer.byteLength) spares[smallest] = buffer;
}

/** A worker's {@link ScanState}. Self-contained: the workers run its source. */
export function newScanState(): ScanState {
  return { small: Buffer.allocUnsafeSlow(1024 * 1024), spares: [] };
}

/**
 * Searches files the way the core matcher (`grepText` over the strictly decoded text) does, on
 * their bytes: a file is searched when it is a regular file inside the root, within `maxBytes`,
 * without NUL and valid UTF-8 as a whole; then every line holding the needle is a match, with
 * its 1-based number and its text (a `\r` kept). For valid UTF-8 this equals the string search:
 * UTF-8 is self-synchronising (byte and string occurrences of a well-formed needle coincide) and
 * lines end at the byte `\n`, so only matching lines are decoded.
 *
 * Each file is opened without following a final symlink, and what was opened is checked through
 * `/proc/self/fd` to lie inside the root before a byte of it is used in an answer: a file on the
 * root's own filesystem is read and searched first and asked only when it would make matches (one
 * without any answers nothing wherever it lies: one system call fewer for most files of a search);
 * a file on another filesystem (procfs, sysfs, a mount) is asked before it is read. Blocking calls:
 * this runs in a worker thread. It must stay self-contained (its source is the worker's code): no
 * reference to anything outside its parameters and the globals of a Node worker.
 */
export function scanFiles(job: ScanJob, deps: ScanDeps): BatchScan {
  const { fs, isUtf8, state } = deps;
  const { needle, rootBase } = job;
  const out: FileScan[] = [];
  let texts: Buffer;
  if (state.spares.length > 0) {
    let largest = 0;
    for (let i = 1; i < state.spares.length; i++) {
      if ((state.spares[i] as ArrayBuffer).byteLength > (state.spares[largest] as ArrayBuffer).byteLength) largest = i;
    }
    texts = Buffer.from(state.spares.splice(largest, 1)[0] as ArrayBuffer);
  } else {
    texts = Buffer.allocUnsafeSlow(64 * 1024);
  }
  let used = 0;
  // The batch's matches, and whether it stopped at `room` or `textRoom` (the answer is over its
  // bounds) or at the caller's stop: the files left are not searched. A text's bytes bound its
  // UTF-16 length from above (1-3 bytes: one unit, 4 bytes: two), so the exact length is counted
  // (once per byte) only when the bytes since the last count could pass `textRoom`.
  let kept = 0;
  let full = false;
  let units = 0;
  let unitsAt = 0;
  let checkAt = job.textRoom;
  // The file open as `fd` lies inside the root: what was opened, named through `/proc/self/fd`.
  const liesInside = (fd: number) => {
    if (rootBase === "/") return true;
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    return real === rootBase || real.startsWith(`${rootBase}/`);
  };
  // `size` bytes to read a file into (see ScanState).
  const scratchFor = (size: number): Buffer => {
    if (size <= state.small.length) return state.small.subarray(0, size);
    if (state.large === undefined || state.large.length < size) {
      state.large = Buffer.allocUnsafeSlow(Math.max(size, Math.min(job.maxBytes, 16 * 1024 * 1024)));
    }
    return state.large.subarray(0, size);
  };
  // The searchable bytes of the regular file open as `fd` (in the scratch buffer) and the needle's
  // first hit in them; null when grep skips the file, "retry" when it reports no size (procfs and
  // the like: read to its end another way, which checks it first).
  const scanOpen = (fd: number): { bytes: Buffer; hit: number } | "retry" | null => {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile() || stats.size > job.maxBytes) return null;
    // A file on another filesystem than the root's (procfs, sysfs, a mount) is asked where it lies
    // before anything of it is read; one on the root's own, only once its bytes would make matches.
    const askFirst = stats.dev !== job.rootDev;
    if (askFirst && !liesInside(fd)) return null;
    if (stats.size === 0) return "retry";
    const into = scratchFor(stats.size);
    let filled = 0;
    while (filled < stats.size) {
      const read = fs.readSync(fd, into, filled, stats.size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    const bytes = into.subarray(0, filled);
    const hit = bytes.indexOf(needle);
    if (hit === -1 || bytes.indexOf(0) !== -1 || !isUtf8(bytes)) return null;
    // A file without any match answers nothing wherever it lies, and most files of a search have
    // none: they skip the question (one system call fewer each; every file, for a rare word).
    if (!askFirst && !liesInside(fd)) return null;
    return { bytes, hit };
  };
  for (const host of job.hosts) {
    if (full || (job.stop !== undefined && Atomics.load(job.stop, 0) !== 0)) {
      full = true;
      out.push(null);
      continue;
    }
    let fd: number;
    try {
      fd = fs.openSync(host, job.openFlags);
    } catch (error) {
      const code = (error as { code?: string }).code;
      out.push(code === "EMFILE" || code === "ENFILE" || code === "EAGAIN" || code === "EINTR" ? "retry" : null);
      continue;
    }
    let found: ReturnType<typeof scanOpen>;
    try {
      found = scanOpen(fd);
    } catch {
      found = null;
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        // A read-only descriptor: nothing to lose.
      }
    }
    if (found === null || found === "retry") {
      out.push(found);
      continue;
    }
    const { bytes } = found;
    let { hit } = found;
    const lines: number[] = [];
    let line = 1;
    let counted = 0;
    while (hit !== -1) {
      // The newlines before the hit, each found by indexOf (memchr): about twice as fast as a
      // loop over the bytes in JavaScript on real code.
      for (let nl = bytes.indexOf(10, counted); nl !== -1 && nl < hit; nl = bytes.indexOf(10, nl + 1)) {
        line++;
        counted = nl + 1;
      }
      const newline = bytes.indexOf(10, hit + needle.length);
      const end = newline === -1 ? bytes.length : newline;
      lines.push(line);
      // The line and a separator go to the batch's texts.
      if (texts.length < used + end - counted + 1) {
        let size = Math.max(texts.length * 2, 64 * 1024);
        while (size < used + end - counted + 1) size *= 2;
        const grown = Buffer.allocUnsafeSlow(size);
        texts.copy(grown, 0, 0, used);
        texts = grown;
      }
      if (used > 0) texts[used++] = 10;
      used += bytes.copy(texts, used, counted, end);
      kept++;
      if (used > checkAt) {
        for (; unitsAt < used; unitsAt++) {
          const byte = texts[unitsAt] as number;
          if (byte !== 10 && (byte & 0xc0) !== 0x80) units += byte >= 0xf0 ? 2 : 1;
        }
        if (units > job.textRoom) full = true;
        else checkAt = used + job.textRoom - units;
      }
      if (kept >= job.room) full = true;
      if (full || lines.length >= job.limit || newline === -1) break;
      line++;
      counted = newline + 1;
      hit = bytes.indexOf(needle, counted);
    }
    out.push(lines);
  }
  // The buffer itself goes to the caller (transferred, not copied), which hands it back.
  return { scans: out, text: new Uint8Array(texts.buffer, texts.byteOffset, used) };
}
