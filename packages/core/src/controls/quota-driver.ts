/**
 * {@link QuotaDriver}: the driver layer of `withQuota`. It keeps the store's usage (bytes and
 * files) incrementally, from one walk on first use, and refuses a write that would exceed a limit
 * with `too_large` before the store is touched. Each write reserves its growth synchronously
 * before it starts and commits or rolls it back when it ends, so concurrent writers never exceed a
 * limit together; the facade above serialises the mutations of each path, so the size a write
 * replaces does not change under it.
 */
import type { DriverHistory } from "../history/history-types.js";
import {
  type BatchFile,
  type CallContext,
  type Driver,
  type DriverEntry,
  type Fault,
  fault,
  isFault,
  type WriteCall,
} from "../kit/driver.js";
import { ForwardingDriver } from "../kit/forwarding-driver.js";
import type { MaybePromise } from "../protocol.js";

/** Limits of `withQuota`; each is optional. */
export interface QuotaLimits {
  /** Total bytes of all files. */
  maxBytes?: number;
  /** Number of files. */
  maxFiles?: number;
  /** Bytes of any one file. */
  maxFileSize?: number;
}

/** What the files of a store take. */
export interface QuotaUsage {
  bytes: number;
  files: number;
}

/** The growth one mutation reserved, and its whole change (negative when it shrinks). */
interface Reservation {
  bytes: number;
  files: number;
  heldBytes: number;
  heldFiles: number;
}

const NOTHING: Reservation = Object.freeze({ bytes: 0, files: 0, heldBytes: 0, heldFiles: 0 });

function sizeOf(content: string | Uint8Array): number {
  return typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;
}

function thrownFault(error: unknown): Fault {
  const carried = (error as { fault?: unknown } | null)?.fault;
  if (isFault(carried)) return carried;
  throw error;
}

/** A driver that forwards to `base` what fits within `limits`. */
export class QuotaDriver extends ForwardingDriver {
  /** The limits this layer enforces. */
  readonly limits: Readonly<QuotaLimits>;
  private readonly used: QuotaUsage = { bytes: 0, files: 0 };
  /** Growth reserved by mutations in flight. */
  private readonly held: QuotaUsage = { bytes: 0, files: 0 };
  private counting: Promise<Fault | null> | undefined;
  private counted = false;

  constructor(base: Driver, limits: QuotaLimits) {
    super(base);
    this.limits = limits;
    const self = this as { -readonly [K in keyof Driver]?: Driver[K] };
    if (base.writeBatch) self.writeBatch = (files, call) => this.writeBatchWithin(files, call);
    if (base.history) self.history = this.historyWithin(base.history);
  }

  /** The usage as of now (after one walk of the store on first use). */
  async usage(call: CallContext = {}): Promise<QuotaUsage | Fault> {
    const failed = await this.ready(call);
    return failed ?? { ...this.used };
  }

  override async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    const failed = await this.ready(call);
    if (failed) return failed;
    return this.within(path, sizeOf(content), call, () => this.base.write(path, content, call));
  }

  /** Runs `change`, which leaves `path` holding `size` bytes, within the limits. */
  private async within(
    path: string,
    size: number,
    call: CallContext,
    change: () => MaybePromise<{ etag: string } | Fault>,
  ): Promise<{ etag: string } | Fault> {
    const reserved = await this.plan(path, size, call);
    if (isFault(reserved)) return reserved;
    let done: { etag: string } | Fault;
    try {
      done = await change();
    } catch (error) {
      this.settle(reserved, false);
      throw error;
    }
    this.settle(reserved, !isFault(done));
    return done;
  }

  /**
   * The store's history, whose native `restore` (S3 copies a version inside the bucket) is planned
   * as a write of the version's size, read from the file's version list; without one, the facade
   * restores by reading the version and writing it through this layer.
   */
  private historyWithin(history: DriverHistory): DriverHistory {
    const native = history.restore?.bind(history);
    return {
      versions: (path, limit, call) => history.versions(path, limit, call),
      readVersion: (path, version, call) => history.readVersion(path, version, call),
      snapshot: (call) => history.snapshot(call),
      changesSince: (snapshot, call) => history.changesSince(snapshot, call),
      readAt: (snapshot, path, call) => history.readAt(snapshot, path, call),
      ...(native && {
        restore: async (path: string, version: string, call: WriteCall): Promise<{ etag: string } | Fault> => {
          const failed = await this.ready(call);
          if (failed) return failed;
          const listed = await history.versions(path, undefined, call);
          if (isFault(listed)) return listed;
          const found = listed.find((v) => v.version === version);
          if (!found) return fault("file_not_found", { path, reason: "no_version", detail: version });
          return this.within(path, found.size, call, () => native(path, version, call));
        },
      }),
    };
  }

  /** Removes `path` and releases what it took (for a failed directory delete, what is gone). */
  override async remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    const failed = await this.ready(call);
    if (failed) return failed;
    const before = await this.takenAt(path, call);
    if (isFault(before)) return before;
    const done = await this.base.remove(path, call);
    if (!isFault(done)) {
      this.release(before);
      return done;
    }
    // A delete may fail part way (a router's member): release what is gone.
    const after = await this.takenAt(path, call);
    if (!isFault(after)) this.release({ bytes: before.bytes - after.bytes, files: before.files - after.files });
    return done;
  }

  /**
   * Plans and writes a batch. A path named more than once is planned against what its earlier
   * copy left, not against the size before the batch (which would count the copies' changes from
   * one start and undercount the store): the batch goes in rounds of distinct paths, each copy of a
   * path in the order given, so the last one still lands last.
   */
  private async writeBatchWithin(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const failed = await this.ready(call);
    if (failed) return files.map(() => failed);
    const answers: Array<{ etag: string } | Fault> = new Array(files.length);
    let pending = files.map((_, i) => i);
    while (pending.length > 0) {
      const named = new Set<string>();
      const round: number[] = [];
      const later: number[] = [];
      for (const i of pending) {
        const path = (files[i] as BatchFile).path;
        if (named.has(path)) later.push(i);
        else {
          named.add(path);
          round.push(i);
        }
      }
      const written = await this.writeRound(
        round.map((i) => files[i] as BatchFile),
        call,
      );
      round.forEach((i, k) => {
        answers[i] = written[k] as { etag: string } | Fault;
      });
      pending = later;
    }
    return answers;
  }

  /** Plans, writes and settles files of distinct paths. */
  private async writeRound(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const plans: Array<Reservation | Fault> = [];
    for (const file of files) plans.push(await this.plan(file.path, file.bytes.byteLength, call));
    const accepted = files.filter((_, i) => !isFault(plans[i]));
    let written: Array<{ etag: string } | Fault> = [];
    try {
      if (accepted.length > 0)
        written = await (this.base.writeBatch as NonNullable<Driver["writeBatch"]>).call(this.base, accepted, call);
    } catch (error) {
      for (const plan of plans) if (!isFault(plan)) this.settle(plan, false);
      throw error;
    }
    let next = 0;
    return plans.map((plan) => {
      if (isFault(plan)) return plan;
      const one = written[next++] ?? fault("backend_unavailable", { detail: "no answer for this file" });
      this.settle(plan, !isFault(one));
      return one;
    });
  }

  /** Counts the store once (concurrent first calls share the walk; a failed walk is retried later). */
  private async ready(call: CallContext): Promise<Fault | null> {
    if (this.counted) return null;
    this.counting ??= this.count(call);
    const failed = await this.counting;
    if (failed) this.counting = undefined;
    return failed;
  }

  private async count(call: CallContext): Promise<Fault | null> {
    const taken = await this.takenAt("/", call);
    if (isFault(taken)) return taken;
    this.used.bytes = taken.bytes;
    this.used.files = taken.files;
    this.counted = true;
    return null;
  }

  /** Bytes and files at `path`: a file, everything below a directory, or nothing. */
  private async takenAt(path: string, call: CallContext): Promise<QuotaUsage | Fault> {
    const stat = await this.base.stat(path, call);
    if (isFault(stat)) return stat;
    if (stat.kind === "file") return { bytes: stat.size, files: 1 };
    if (stat.kind === "none") return { bytes: 0, files: 0 };
    const taken: QuotaUsage = { bytes: 0, files: 0 };
    try {
      for await (const entry of this.base.walk(path, call)) {
        if (entry.kind !== "file") continue;
        taken.files += 1;
        taken.bytes += await this.sizeOfEntry(entry, call);
      }
    } catch (error) {
      return thrownFault(error);
    }
    return taken;
  }

  private async sizeOfEntry(entry: DriverEntry, call: CallContext): Promise<number> {
    if (entry.size !== undefined) return entry.size;
    const stat = await this.base.stat(entry.path, call);
    return !isFault(stat) && stat.kind === "file" ? stat.size : 0;
  }

  /**
   * Reserves the growth of writing `size` bytes at `path`, or answers `too_large` naming the limit.
   * The check and the reservation happen in one synchronous step after the stat, so writers that
   * run concurrently see each other's reservations.
   */
  private async plan(path: string, size: number, call: CallContext): Promise<Reservation | Fault> {
    const { maxBytes, maxFiles, maxFileSize } = this.limits;
    if (maxFileSize !== undefined && size > maxFileSize) {
      return quotaFault(`maxFileSize is ${maxFileSize} bytes and the file would have ${size}`);
    }
    const stat = await this.base.stat(path, call);
    if (isFault(stat)) return stat;
    // A directory in the way: the store refuses the write; it changes nothing.
    if (stat.kind === "directory") return NOTHING;
    const old = stat.kind === "file" ? stat.size : 0;
    const bytes = size - old;
    const files = stat.kind === "file" ? 0 : 1;
    const heldBytes = Math.max(0, bytes);
    const used = this.used;
    const held = this.held;
    if (maxBytes !== undefined && heldBytes > 0 && used.bytes + held.bytes + heldBytes > maxBytes) {
      return quotaFault(
        `maxBytes is ${maxBytes}, ${used.bytes + held.bytes} bytes are used and this adds ${heldBytes}`,
      );
    }
    if (maxFiles !== undefined && files > 0 && used.files + held.files + files > maxFiles) {
      return quotaFault(`maxFiles is ${maxFiles} and ${used.files + held.files} files are stored`);
    }
    held.bytes += heldBytes;
    held.files += files;
    return { bytes, files, heldBytes, heldFiles: files };
  }

  /** Ends a reservation: its change counts when the write was made, else it is dropped. */
  private settle(reservation: Reservation, made: boolean): void {
    this.held.bytes -= reservation.heldBytes;
    this.held.files -= reservation.heldFiles;
    if (!made) return;
    this.used.bytes += reservation.bytes;
    this.used.files += reservation.files;
  }

  private release(freed: QuotaUsage): void {
    this.used.bytes = Math.max(0, this.used.bytes - freed.bytes);
    this.used.files = Math.max(0, this.used.files - freed.files);
  }
}

function quotaFault(detail: string): Fault {
  return fault("too_large", { reason: "quota", detail });
}
