/**
 * {@link StoreHistory}: versions of files kept in another deepfs backend (the history store), shared
 * by every process that uses the same store. The layout of the store:
 *
 * - `/id`: the id of this history (random, created once), named by every snapshot id.
 * - `/log/<seq>`: one record per version, claimed with `ifNoneMatch: "*"` (a process that finds the
 *   number taken tries the next), so sequence numbers are unique and totally ordered across
 *   processes, and a snapshot is a watermark: the highest number at the time.
 * - `/paths/<sha256 of the path>/<seq>`: the same record again, the per-file index `versions()` lists;
 *   `/paths/<sha256 of the path>/first`: the number of the file's first version ever (retention may drop
 *   it; a snapshot before it then knows the file did not exist, one after it that it was pruned).
 * - `/objects/<sha256>`: the bytes of each content, once (content-addressed).
 * - `/locks/<sha256 of the path>`: a path lock held while a change and its version are made, so that two
 *   processes record the changes of one file in the order the backend applied them.
 */

import { createHash, randomUUID } from "node:crypto";
import type { DriverFile, Fault } from "../kit/driver.js";
import { fault, isFault } from "../kit/driver.js";
import type { BackendProtocol, ErrorFields } from "../protocol.js";
import type {
  DriverHistory,
  FileVersion,
  HistoryRetention,
  SnapshotChange,
  VersionedFile,
  VersionOp,
} from "./history-types.js";
import { limitsOf } from "./version-log.js";

/** One version as stored (in the log and in the path's index). */
interface VersionRecord {
  seq: number;
  path: string;
  /** Milliseconds since the epoch, for retention by age. */
  at: number;
  op: VersionOp;
  etag: string;
  size: number;
  modified_at: string;
  /** The sha256 of the content in `/objects/`, null for a tombstone. */
  blob: string | null;
  /** The content was text (a string): read back as one. */
  text: boolean;
}

/** A change to record: the new content and etag, or null for a delete. */
export type RecordedChange = { content: string | Uint8Array; etag: string } | null;

const LOCK_TTL_MS = 30_000;
const LOCK_WAIT_MS = 15_000;
const SEQ_DIGITS = 15;

const pad = (seq: number) => String(seq).padStart(SEQ_DIGITS, "0");
/** A path as one short name (the records hold the path itself). */
const encode = (path: string) => createHash("sha256").update(path).digest("hex");
const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);
const failed = (got: ErrorFields) => typeof got.error === "string" && got.error !== "";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fault of a history store that failed (its own sentence names its own paths: not repeated). */
const storeDown = (what: string): Fault =>
  fault("backend_unavailable", { detail: `the history store failed to ${what}` });

/** Versions of the files of one backend, kept in `store` (see the module comment for the layout). */
export class StoreHistory implements DriverHistory {
  private readonly store: BackendProtocol;
  private readonly maxVersions: number;
  private readonly maxAgeMs: number;
  private readonly owner = randomUUID();
  private id: string | undefined;
  /** The next sequence number to try (other processes may have taken it). */
  private next: number | undefined;
  /** The claim in progress in this process (see `claim`). */
  private claims: Promise<unknown> = Promise.resolve();

  constructor(store: BackendProtocol, retention: HistoryRetention = {}) {
    this.store = store;
    const limits = limitsOf(retention);
    this.maxVersions = limits.maxVersions;
    this.maxAgeMs = limits.maxAgeMs;
  }

  /**
   * Runs `body` holding the store's locks of `paths` (taken in sorted order, so two callers never
   * wait on each other), then releases them. A lock left by a crashed process expires.
   */
  async locked<T>(paths: string[], body: () => Promise<T | Fault>): Promise<T | Fault> {
    const sorted = [...new Set(paths)].sort();
    const held: string[] = [];
    try {
      for (const path of sorted) {
        const got = await this.acquire(path);
        if (isFault(got)) return got;
        held.push(path);
      }
      return await body();
    } finally {
      for (const path of held) await this.store.delete?.(`/locks/${encode(path)}`);
    }
  }

  private async acquire(path: string): Promise<true | Fault> {
    const key = `/locks/${encode(path)}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const body = JSON.stringify({ owner: this.owner, until: Date.now() + LOCK_TTL_MS });
      const got = await this.store.write(key, body, { ifNoneMatch: "*" });
      if (!failed(got)) return true;
      if (got.code !== "conflict") return storeDown("take a path lock");
      const held = await this.store.readRaw(key);
      if (!failed(held) && held.data) {
        const until = Number((JSON.parse(String(held.data.content)) as { until?: unknown }).until);
        if (!(until > Date.now()) && held.etag) {
          const taken = await this.store.write(key, body, { ifMatch: held.etag });
          if (!failed(taken)) return true;
        }
      }
      if (Date.now() > deadline) return storeDown("free a path lock in time");
      await sleep(2 + Math.random() * 10);
    }
  }

  /** Records a change of `path` as a new version (the caller holds the path's lock). */
  async record(path: string, op: VersionOp, change: RecordedChange): Promise<true | Fault> {
    const now = Date.now();
    let blob: string | null = null;
    let size = 0;
    let text = false;
    if (change) {
      const bytes = typeof change.content === "string" ? Buffer.from(change.content, "utf8") : change.content;
      blob = createHash("sha256").update(bytes).digest("hex");
      size = bytes.byteLength;
      text = typeof change.content === "string";
      const [up] = await this.store.uploadFiles([[`/objects/${blob}`, bytes]]);
      if (!up || up.error !== null) return storeDown("store a content");
    }
    const record: VersionRecord = {
      seq: 0,
      path,
      at: now,
      op,
      etag: change ? change.etag : "",
      size,
      modified_at: new Date(now).toISOString(),
      blob,
      text,
    };
    const seq = await this.claim(record);
    if (isFault(seq)) return seq;
    const dir = `/paths/${encode(path)}`;
    const indexed = await this.store.write(`${dir}/${pad(seq)}`, JSON.stringify(record), { ifNoneMatch: "*" });
    if (failed(indexed)) return storeDown("index a version");
    // The file's first version ever: only the first writer succeeds (retention never drops the newest).
    await this.store.write(`${dir}/first`, String(seq), { ifNoneMatch: "*" });
    // Listing may scan the store (a LangGraph namespace is paged through): only with retention.
    if (Number.isFinite(this.maxVersions) || Number.isFinite(this.maxAgeMs)) {
      const listed = await this.store.ls(dir);
      if (failed(listed)) return storeDown("list versions");
      const seqs = (listed.files ?? [])
        .map((f) => baseName(f.path))
        .filter((n) => n !== "first")
        .map(Number);
      await this.prune(dir, seqs, now);
    }
    return true;
  }

  /**
   * Claims the next free sequence number for `record` in the log. The claims of one process go one
   * at a time: concurrent claims of the same number would each find it taken and rescan the log (a
   * storm that grew with the log), and reserving numbers ahead would leave holes that another
   * process could fill out of a file's order. Between processes, the conditional write decides.
   */
  private claim(record: VersionRecord): Promise<number | Fault> {
    const claimed = this.claims.then(() => this.claimNow(record));
    this.claims = claimed.then(
      () => undefined,
      () => undefined,
    );
    return claimed;
  }

  private async claimNow(record: VersionRecord): Promise<number | Fault> {
    let seq = this.next ?? (await this.maxSeq()) + 1;
    if (Number.isNaN(seq)) return storeDown("list the log");
    let rescanned = false;
    for (;;) {
      record.seq = seq;
      const got = await this.store.write(`/log/${pad(seq)}`, JSON.stringify(record), { ifNoneMatch: "*" });
      if (!failed(got)) {
        this.next = seq + 1;
        return seq;
      }
      if (got.code !== "conflict") return storeDown("append to the log");
      // Another process took it: jump past everything taken once, then step.
      if (!rescanned) {
        rescanned = true;
        const max = await this.maxSeq();
        if (Number.isNaN(max)) return storeDown("list the log");
        seq = Math.max(seq + 1, max + 1);
      } else seq++;
    }
  }

  /** The highest sequence number in the log (0 when empty, NaN when the store failed). */
  private async maxSeq(): Promise<number> {
    const listed = await this.store.ls("/log");
    if (failed(listed)) return listed.code === "file_not_found" ? 0 : Number.NaN;
    let max = 0;
    for (const f of listed.files ?? []) max = Math.max(max, Number(baseName(f.path)) || 0);
    return max;
  }

  /** Drops index and log entries of `dir` beyond the retention limits, always keeping the newest. */
  private async prune(dir: string, seqs: number[], now: number): Promise<void> {
    const oldestFirst = [...seqs].sort((a, b) => a - b);
    let drop = Math.max(0, oldestFirst.length - this.maxVersions);
    if (Number.isFinite(this.maxAgeMs)) {
      while (drop < oldestFirst.length - 1) {
        const rec = await this.recordAt(dir, oldestFirst[drop] as number);
        if (isFault(rec) || rec === null || now - rec.at <= this.maxAgeMs) break;
        drop++;
      }
    }
    for (const seq of oldestFirst.slice(0, drop)) {
      await this.store.delete?.(`${dir}/${pad(seq)}`);
      await this.store.delete?.(`/log/${pad(seq)}`);
    }
  }

  private async recordAt(dir: string, seq: number): Promise<VersionRecord | null | Fault> {
    const got = await this.store.readRaw(`${dir}/${pad(seq)}`);
    if (failed(got)) return got.code === "file_not_found" ? null : storeDown("read a version");
    return JSON.parse(String(got.data?.content)) as VersionRecord;
  }

  /** The sequence numbers of `path`'s versions, oldest first, and its first number ever. */
  private async index(path: string): Promise<{ seqs: number[]; first: number | null } | Fault> {
    const dir = `/paths/${encode(path)}`;
    const listed = await this.store.ls(dir);
    if (failed(listed))
      return listed.code === "file_not_found" ? { seqs: [], first: null } : storeDown("list versions");
    const names = (listed.files ?? []).filter((f) => !f.is_dir).map((f) => baseName(f.path));
    const seqs = names
      .filter((n) => n !== "first")
      .map(Number)
      .sort((a, b) => a - b);
    let first: number | null = seqs[0] ?? null;
    if (names.includes("first")) {
      const got = await this.store.readRaw(`${dir}/first`);
      if (!failed(got)) first = Number(got.data?.content);
    }
    return { seqs, first };
  }

  /** The records of `path`, newest first, at most `limit`, without those past the age limit. */
  private async records(path: string, limit: number | undefined): Promise<VersionRecord[] | Fault> {
    const found = await this.index(path);
    if (isFault(found)) return found;
    const out: VersionRecord[] = [];
    const dir = `/paths/${encode(path)}`;
    const now = Date.now();
    for (const seq of [...found.seqs].reverse()) {
      if (limit !== undefined && out.length >= limit) break;
      const rec = await this.recordAt(dir, seq);
      if (isFault(rec)) return rec;
      if (rec === null) continue;
      if (out.length > 0 && now - rec.at > this.maxAgeMs) break;
      out.push(rec);
    }
    return out;
  }

  async versions(path: string, limit: number | undefined): Promise<FileVersion[] | Fault> {
    const found = await this.records(path, limit);
    if (isFault(found)) return found;
    return found.map((r) => ({
      version: `v${r.seq}`,
      etag: r.etag,
      size: r.size,
      modified_at: r.modified_at,
      op: r.op,
    }));
  }

  async readVersion(path: string, version: string): Promise<DriverFile | Fault> {
    const seq = /^v[0-9]+$/.test(version) ? Number(version.slice(1)) : Number.NaN;
    const rec = Number.isSafeInteger(seq) ? await this.recordAt(`/paths/${encode(path)}`, seq) : null;
    if (isFault(rec)) return rec;
    if (rec === null || rec.path !== path) return fault("file_not_found", { reason: "no_version", detail: version });
    return this.contentOf(rec, version);
  }

  private async contentOf(rec: VersionRecord, version: string): Promise<DriverFile | Fault> {
    if (rec.blob === null) return fault("file_not_found", { reason: "deleted_version", detail: version });
    const [got] = await this.store.downloadFiles([`/objects/${rec.blob}`]);
    if (!got || got.error !== null || !got.content) return storeDown("read a stored content");
    const content = rec.text ? Buffer.from(got.content).toString("utf8") : got.content;
    return { content, etag: rec.etag, createdAt: rec.modified_at, modifiedAt: rec.modified_at };
  }

  /** The id of this history, made once and shared through the store. */
  private async historyId(): Promise<string | Fault> {
    if (this.id) return this.id;
    const mine = randomUUID().slice(0, 8);
    const made = await this.store.write("/id", mine, { ifNoneMatch: "*" });
    if (!failed(made)) this.id = mine;
    else {
      const got = await this.store.readRaw("/id");
      if (failed(got) || !got.data) return storeDown("read its id");
      this.id = String(got.data.content);
    }
    return this.id;
  }

  async snapshot(): Promise<string | Fault> {
    const id = await this.historyId();
    if (isFault(id)) return id;
    const max = await this.maxSeq();
    return Number.isNaN(max) ? storeDown("list the log") : `${id}.${max}`;
  }

  private async positionOf(snapshot: string): Promise<number | Fault> {
    const id = await this.historyId();
    if (isFault(id)) return id;
    const [store, position] = snapshot.split(".");
    const n = Number(position);
    if (store !== id || !Number.isSafeInteger(n) || n < 0) {
      return fault("invalid_argument", { reason: "unknown_snapshot" });
    }
    return n;
  }

  /** The version of `path` current at position `at` (null: no file then), or a fault when pruned. */
  private async stateAt(path: string, at: number): Promise<VersionRecord | null | Fault> {
    const found = await this.index(path);
    if (isFault(found)) return found;
    const before = found.seqs.filter((s) => s <= at);
    const seq = before[before.length - 1];
    if (seq === undefined) {
      return found.first !== null && found.first <= at
        ? fault("unsupported", { path, reason: "history_pruned" })
        : null;
    }
    const rec = await this.recordAt(`/paths/${encode(path)}`, seq);
    if (isFault(rec)) return rec;
    if (rec === null) return fault("unsupported", { path, reason: "history_pruned" });
    return rec.blob === null ? null : rec;
  }

  async changesSince(snapshot: string): Promise<SnapshotChange[] | Fault> {
    const at = await this.positionOf(snapshot);
    if (isFault(at)) return at;
    const listed = await this.store.ls("/log");
    if (failed(listed) && listed.code !== "file_not_found") return storeDown("list the log");
    const paths = new Set<string>();
    for (const f of listed.files ?? []) {
      const seq = Number(baseName(f.path));
      if (!(seq > at)) continue;
      const got = await this.store.readRaw(f.path);
      if (failed(got)) continue; // pruned meanwhile: a newer version of its file is in the log
      paths.add((JSON.parse(String(got.data?.content)) as VersionRecord).path);
    }
    const out: SnapshotChange[] = [];
    for (const path of paths) {
      const then = await this.stateAt(path, at);
      if (isFault(then)) return then;
      const newest = await this.stateAt(path, Number.MAX_SAFE_INTEGER);
      if (isFault(newest)) return newest;
      if (then === null) {
        if (newest !== null) out.push({ path, change: "added" });
      } else if (newest === null) out.push({ path, change: "deleted" });
      else if (then.blob !== newest.blob || then.text !== newest.text) out.push({ path, change: "modified" });
    }
    return out;
  }

  async readAt(snapshot: string, path: string): Promise<VersionedFile | null | Fault> {
    const at = await this.positionOf(snapshot);
    if (isFault(at)) return at;
    const then = await this.stateAt(path, at);
    if (then === null || isFault(then)) return then;
    const version = `v${then.seq}`;
    const file = await this.contentOf(then, version);
    return isFault(file) ? file : { ...file, version };
  }
}
