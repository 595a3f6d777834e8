/**
 * The files of a LocalBackend's history directory (see `local-history.ts` for what they mean):
 *
 * - `objects/ab/cdef…`: the bytes of each version, named by their SHA-256 (so equal contents are
 *   stored once), written to a temp file, fsync'd, renamed into place, and the directory fsync'd.
 * - `log`: one JSON line per version, appended and fsync'd before a change is acknowledged.
 * - `id`: the random id that names this history in snapshot ids.
 * - `lock`: the pid of the process using the directory (one process at a time).
 *
 * Nothing here is below the backend's root, so no path of the backend names any of it.
 */
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { DeepfsError } from "@deepfs/core";
import { errnoCode } from "./errors.js";

/** One version as the log stores it. */
export interface LogRecord {
  /** Position in the history's sequence (the version id). */
  s: number;
  /** Virtual path. */
  p: string;
  /** Op: write, edit, upload, delete or restore. */
  o: string;
  /** Etag ("" for a tombstone). */
  e: string;
  /** Size in bytes. */
  n: number;
  /** Time of the change, ms since the epoch. */
  a: number;
  /** SHA-256 (hex) of the content, null for a tombstone. */
  h: string | null;
  /** Set by compaction on the oldest kept version of a path: the seq of its first version ever. */
  f?: number;
  /** The file's mtime (ms) and inode as written: the same size, mtime and inode at open mean unchanged. */
  m?: number;
  i?: number;
}

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/** The hex SHA-256 of `bytes`: an object's name. */
export function objectHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Fsyncs a directory, so that a rename or create in it survives a power loss. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, fs.constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` with `bytes`, fsync'd before it resolves. */
async function writeDurable(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.promises.open(path, "wx", PRIVATE_FILE);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The directory's files, for one open history. */
export class HistoryFiles {
  readonly dir: string;
  private readonly objects: string;
  private readonly logPath: string;
  private readonly lockPath: string;
  private appendFd: number | null = null;
  /** What this instance wrote in the lock file: the pid and a random token. */
  private readonly lockToken = `${process.pid} ${randomUUID()}`;

  constructor(dir: string) {
    this.dir = dir;
    this.objects = join(dir, "objects");
    this.logPath = join(dir, "log");
    this.lockPath = join(dir, "lock");
  }

  /**
   * Creates the directory when missing and takes its lock (`<pid> <token>`): refused
   * (`invalid_argument`) while another live process holds it. A lock with this process's pid is
   * stale (the backends of this process share one open history, see `history-handle.ts`): left
   * by an earlier process that had the same pid (a container restarted), or by a history of this
   * process still closing, which then leaves the new lock alone (its token differs).
   */
  lock(): void {
    fs.mkdirSync(this.objects, { recursive: true, mode: PRIVATE_DIR });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(this.lockPath, "wx", PRIVATE_FILE);
        fs.writeSync(fd, this.lockToken);
        fs.closeSync(fd);
        return;
      } catch (error) {
        if (errnoCode(error) !== "EEXIST") throw error;
      }
      const holder = Number(readText(this.lockPath)?.split(" ")[0]);
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new DeepfsError(
          "invalid_argument",
          `The history directory ${this.dir} is in use by process ${holder}: one process at a time may keep history on a root (close its backends first)`,
        );
      }
      // Left by a process that is gone (or an earlier one with this pid): take it over.
      fs.rmSync(this.lockPath, { force: true });
    }
    throw new DeepfsError("invalid_argument", `The history directory ${this.dir} could not be locked`);
  }

  /** Releases the lock (when this process holds it) and the log's descriptor. */
  unlock(): void {
    if (this.appendFd !== null) {
      fs.closeSync(this.appendFd);
      this.appendFd = null;
    }
    if (readText(this.lockPath) === this.lockToken) fs.rmSync(this.lockPath, { force: true });
  }

  /** Removes the temp files of log rewrites and id files a crash interrupted (at open). */
  async sweep(): Promise<void> {
    for (const name of await fs.promises.readdir(this.dir)) {
      if (/^(log|id)\..+\.tmp$/.test(name)) await fs.promises.rm(join(this.dir, name), { force: true });
    }
  }

  /** The id of this history, made on first use. */
  storeId(): string {
    const path = join(this.dir, "id");
    const known = readText(path)?.trim();
    if (known && /^[A-Za-z0-9_-]{8,32}$/.test(known)) return known;
    const made = randomUUID().replaceAll("-", "").slice(0, 12);
    const temp = `${path}.${made}.tmp`;
    const fd = fs.openSync(temp, "wx", PRIVATE_FILE);
    try {
      fs.writeSync(fd, made);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, path);
    return made;
  }

  /**
   * The records of the log. A last line without its newline (or unreadable) is what a crash in
   * the middle of an append leaves: the log is truncated to the end of the last whole record. A
   * damaged record before the last is refused rather than guessed at.
   */
  async readLog(): Promise<LogRecord[]> {
    let text: Buffer;
    try {
      text = await fs.promises.readFile(this.logPath);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return [];
      throw error;
    }
    const records: LogRecord[] = [];
    let start = 0;
    while (start < text.length) {
      const end = text.indexOf(10, start);
      const record = end < 0 ? null : parseRecord(text.subarray(start, end).toString("utf8"));
      if (record === null) {
        if (end >= 0 && end < text.length - 1) {
          // No host path: this message reaches agents (see `unavailable` in local-history.ts).
          throw new DeepfsError("backend_unavailable", `the log is damaged at byte ${start}`);
        }
        await fs.promises.truncate(this.logPath, start);
        break;
      }
      records.push(record);
      start = end + 1;
    }
    return records;
  }

  /** Appends whole records and fsyncs them (one write, one fsync for the batch). */
  async append(records: LogRecord[]): Promise<void> {
    if (this.appendFd === null) {
      const created = !fs.existsSync(this.logPath);
      this.appendFd = fs.openSync(this.logPath, "a", PRIVATE_FILE);
      // A new log's name is durable before its first record is acknowledged.
      if (created) await syncDir(this.dir);
    }
    const fd = this.appendFd;
    const bytes = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(""), "utf8");
    await new Promise<void>((resolve, reject) => fs.write(fd, bytes, (error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
  }

  /** Replaces the log with `records` (temp file, fsync, rename, directory fsync). */
  async rewriteLog(records: LogRecord[]): Promise<void> {
    const temp = `${this.logPath}.${randomUUID().slice(0, 8)}.tmp`;
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    await writeDurable(temp, Buffer.from(text, "utf8"));
    if (this.appendFd !== null) {
      fs.closeSync(this.appendFd);
      this.appendFd = null;
    }
    await fs.promises.rename(temp, this.logPath);
    await syncDir(this.dir);
  }

  /**
   * Stores `bytes` as the object `hash` unless it is there already: temp file, fsync, rename,
   * directory fsync. When this resolves, the object survives a crash or power loss.
   */
  async putObject(hash: string, bytes: Uint8Array): Promise<void> {
    const dir = join(this.objects, hash.slice(0, 2));
    const target = join(dir, hash.slice(2));
    if (fs.existsSync(target)) return;
    const made = await fs.promises.mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    const temp = join(dir, `.tmp-${randomUUID()}`);
    try {
      await writeDurable(temp, bytes);
      await fs.promises.rename(temp, target);
    } catch (error) {
      await fs.promises.rm(temp, { force: true });
      throw error;
    }
    await syncDir(dir);
    if (made !== undefined) await syncDir(this.objects);
  }

  /**
   * Stores the content of the open file `fd` as an object, streaming it (a file of any size);
   * answers its hash, etag and size as copied.
   */
  async putObjectFrom(fd: number): Promise<{ hash: string; etag: string; size: number }> {
    const sha256 = createHash("sha256");
    const sha1 = createHash("sha1");
    let size = 0;
    const temp = join(this.objects, `.tmp-${randomUUID()}`);
    const out = await fs.promises.open(temp, "wx", PRIVATE_FILE);
    try {
      for await (const chunk of fs.createReadStream("", { fd, start: 0, autoClose: false }) as AsyncIterable<Buffer>) {
        sha256.update(chunk);
        sha1.update(chunk);
        size += chunk.byteLength;
        await out.write(chunk);
      }
      await out.sync();
    } catch (error) {
      await out.close();
      await fs.promises.rm(temp, { force: true });
      throw error;
    }
    await out.close();
    const hash = sha256.digest("hex");
    const dir = join(this.objects, hash.slice(0, 2));
    const target = join(dir, hash.slice(2));
    const made = await fs.promises.mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    if (fs.existsSync(target)) await fs.promises.rm(temp, { force: true });
    else {
      await fs.promises.rename(temp, target);
      await syncDir(dir);
      if (made !== undefined) await syncDir(this.objects);
    }
    return { hash, etag: sha1.digest("base64url"), size };
  }

  /** The bytes of an object, or null when it is missing. */
  async getObject(hash: string): Promise<Uint8Array | null> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return null;
    try {
      return await fs.promises.readFile(join(this.objects, hash.slice(0, 2), hash.slice(2)));
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return null;
      throw error;
    }
  }

  /**
   * Removes objects no record in `keep` names, and temp files left by interrupted writes. Runs
   * at open only, before any change can be in flight. Answers how many files it removed.
   */
  async collect(keep: Set<string>): Promise<number> {
    let removed = 0;
    for (const prefix of await fs.promises.readdir(this.objects)) {
      const dir = join(this.objects, prefix);
      if (prefix.startsWith(".tmp-")) {
        await fs.promises.rm(dir, { force: true });
        continue;
      }
      let names: string[];
      try {
        names = await fs.promises.readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (keep.has(prefix + name)) continue;
        await fs.promises.rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}

/** The etag of the open file `fd`, streamed. */
export async function hashOf(fd: number): Promise<string> {
  const sha1 = createHash("sha1");
  for await (const chunk of fs.createReadStream("", { fd, start: 0, autoClose: false }) as AsyncIterable<Buffer>) {
    sha1.update(chunk);
  }
  return sha1.digest("base64url");
}

/** What a record keeps of a file's stats to know it unchanged at the next open. */
export function fingerprint(stats: fs.Stats): { m: number; i: number } {
  return { m: stats.mtimeMs, i: stats.ino };
}

function parseRecord(line: string): LogRecord | null {
  try {
    const r = JSON.parse(line) as LogRecord;
    const valid =
      Number.isSafeInteger(r.s) &&
      r.s > 0 &&
      typeof r.p === "string" &&
      typeof r.o === "string" &&
      typeof r.e === "string" &&
      typeof r.n === "number" &&
      typeof r.a === "number" &&
      (r.h === null || typeof r.h === "string");
    return valid ? r : null;
  } catch {
    return null;
  }
}

function readText(path: string): string | null {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}
