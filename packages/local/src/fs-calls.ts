import * as fs from "node:fs";
import { promisify } from "node:util";
import { errnoCode } from "./errors.js";

/** A value, or a promise of it: what both sets of {@link FsCalls} return. */
export type Awaitable<T> = T | Promise<T>;

/**
 * The filesystem calls the backend makes, on file descriptors, as a value: {@link blockingFs} makes
 * them on the calling thread, {@link threadpoolFs} on libuv's threadpool. Callers `await` every
 * result, so one piece of code serves both; errors are Node system errors either way (thrown or
 * rejected), mapped by code.
 */
export interface FsCalls {
  /** The real path, from the C library's realpath (in both variants, so both resolve alike). */
  realpath(host: string): Awaitable<string>;
  /** `lstat`, or null when nothing is there (ENOENT). */
  lstat(host: string): Awaitable<fs.Stats | null>;
  /** The target of a symbolic link as stored (for `/proc/self/fd/N`, the path of what the descriptor holds). */
  readlink(host: string): Awaitable<string>;
  /** The entries of a directory, with their types where the filesystem gives them. */
  readdir(host: string): Awaitable<fs.Dirent[]>;
  /** Creates one directory (mode 0777 less the umask); EEXIST when something is there. */
  mkdir(host: string): Awaitable<void>;
  open(host: string, flags: number, mode?: number): Awaitable<number>;
  fstat(fd: number): Awaitable<fs.Stats>;
  /** The file's contents from the start; `size` is its size as just stat'ed (the blocking call reads no more). */
  readAll(fd: number, size: number): Awaitable<Buffer>;
  /** All of `bytes` at the current position. */
  writeAll(fd: number, bytes: Uint8Array): Awaitable<void>;
  fchmod(fd: number, mode: number): Awaitable<void>;
  fsync(fd: number): Awaitable<void>;
  close(fd: number): Awaitable<void>;
  rename(from: string, to: string): Awaitable<void>;
  unlink(host: string): Awaitable<void>;
  /** Removes an empty directory (ENOTEMPTY when it is not, ENOTDIR when it is no directory). */
  rmdir(host: string): Awaitable<void>;
}

/** Blocking calls: no threadpool round trip (~150-200 µs each on a busy machine), but they hold the event loop. */
export const blockingFs: FsCalls = {
  realpath: (host) => fs.realpathSync.native(host),
  // throwIfNoEntry: a missing file is the common case for new files, and an Error with a stack costs more than the call.
  lstat: (host) => fs.lstatSync(host, { throwIfNoEntry: false }) ?? null,
  readlink: (host) => fs.readlinkSync(host),
  readdir: (host) => fs.readdirSync(host, { withFileTypes: true }),
  mkdir: (host) => {
    fs.mkdirSync(host);
  },
  open: (host, flags, mode) => fs.openSync(host, flags, mode),
  fstat: (fd) => fs.fstatSync(fd),
  readAll: readAllSync,
  writeAll: (fd, bytes) => fs.writeFileSync(fd, bytes),
  fchmod: (fd, mode) => fs.fchmodSync(fd, mode),
  fsync: (fd) => fs.fsyncSync(fd),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (host) => fs.unlinkSync(host),
  rmdir: (host) => fs.rmdirSync(host),
};

/** Like `readFileSync(fd)` without its second fstat: the caller has just made one. */
function readAllSync(fd: number, size: number): Buffer {
  // Files that report no size (procfs and the like) are read to their end.
  if (size === 0) return fs.readFileSync(fd);
  // Not from the shared pool: the caller may expose the buffer's underlying memory.
  const buffer = Buffer.allocUnsafeSlow(size);
  let filled = 0;
  while (filled < size) {
    const read = fs.readSync(fd, buffer, filled, size - filled, filled);
    if (read === 0) break;
    filled += read;
  }
  return filled < size ? buffer.subarray(0, filled) : buffer;
}

const openAsync = promisify(fs.open);
const fstatAsync = promisify(fs.fstat);
const readFileAsync = promisify(fs.readFile);
const writeFileAsync = promisify(fs.writeFile);
const fchmodAsync = promisify(fs.fchmod);
const fsyncAsync = promisify(fs.fsync);
const closeAsync = promisify(fs.close);

/** Calls on libuv's threadpool: the event loop stays free while the disk works. */
export const threadpoolFs: FsCalls = {
  realpath: (host) => fs.promises.realpath(host),
  lstat: (host) =>
    fs.promises.lstat(host).catch((error: unknown) => {
      if (errnoCode(error) === "ENOENT") return null;
      throw error;
    }),
  readlink: (host) => fs.promises.readlink(host),
  readdir: (host) => fs.promises.readdir(host, { withFileTypes: true }),
  mkdir: async (host) => {
    await fs.promises.mkdir(host);
  },
  open: (host, flags, mode) => openAsync(host, flags, mode),
  fstat: (fd) => fstatAsync(fd),
  readAll: (fd) => readFileAsync(fd),
  writeAll: (fd, bytes) => writeFileAsync(fd, bytes),
  fchmod: (fd, mode) => fchmodAsync(fd, mode),
  fsync: (fd) => fsyncAsync(fd),
  close: (fd) => closeAsync(fd),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (host) => fs.promises.unlink(host),
  rmdir: (host) => fs.promises.rmdir(host),
};
