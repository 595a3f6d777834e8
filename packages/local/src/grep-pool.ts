import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { openDirectoryExactlySync } from "./descriptors.js";
import { type BatchScan, keepSpare, newScanState, type ScanJob, scanFiles } from "./grep-worker.js";
import { type StatJob, statFiles, type WalkAnswer, type WalkJob, walkDirs } from "./walk-worker.js";

/** Workers at most: the search is bound by system calls and memory copies, a few threads saturate them. */
const MAX_WORKERS = 4;
/** Buffers of texts a worker keeps for its next batches (see {@link GrepWorkerPool.recycle}). */
const MAX_SPARES = 4;
/** Largest buffer of texts handed back for reuse (a batch of long lines makes one for itself). */
const MAX_SPARE_BYTES = 4 * 1024 * 1024;

/** The worker's program: {@link scanFiles} from its own source, answering one batch per message. */
const WORKER_SOURCE = `
const { parentPort, receiveMessageOnPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { isUtf8 } = require("node:buffer");
const scanFiles = (${scanFiles.toString()});
const statFiles = (${statFiles.toString()});
const walkDirs = (${walkDirs.toString()});
const openExactly = (${openDirectoryExactlySync.toString()});
const newScanState = (${newScanState.toString()});
const keepSpare = (${keepSpare.toString()});
const deps = { fs, isUtf8, state: newScanState() };
// Buffers handed back come on a port of their own, read here before each batch: on the jobs' port
// they would wait behind the jobs already sent.
const spares = workerData.spares;
const takeSpares = () => {
  for (let got = receiveMessageOnPort(spares); got !== undefined; got = receiveMessageOnPort(spares)) {
    keepSpare(deps.state.spares, got.message, ${MAX_SPARES});
  }
};
parentPort.on("message", ({ id, job, stat, walk }) => {
  let result = null;
  let transfer = [];
  try {
    if (walk) {
      result = walkDirs(walk, fs, openExactly);
      transfer = [result.fileStats.buffer];
    } else if (stat) {
      result = statFiles(stat, fs, openExactly);
      transfer = [result.buffer];
    } else {
      takeSpares();
      result = scanFiles(job, deps);
      transfer = [result.text.buffer];
    }
  } catch {
    result = null;
    transfer = [];
  }
  parentPort.postMessage({ id, result }, transfer);
});
`;

interface Pending {
  resolve: (result: BatchScan | Float64Array | WalkAnswer | null) => void;
}

/** How long a worker may stay idle before it exits, freeing its thread, isolate and buffers (changed only by tests). */
export const workerIdle = { ms: 5_000 };

interface Slot {
  worker: Worker;
  /** Where buffers handed back go to the worker ({@link GrepWorkerPool.recycle}). */
  spares: MessagePort;
  busy: number;
  /** The timer that retires the worker once it has been idle for {@link workerIdle}. */
  idle?: ReturnType<typeof setTimeout>;
  /** Exiting on purpose (idle): its exit is no failure. */
  retired?: boolean;
}

/**
 * A few worker threads that search batches of files ({@link scanFiles}), walk directories
 * ({@link walkDirs}) and look up sizes and times ({@link statFiles}), so that the blocking calls
 * use every core and never hold the event loop. Started on first use, shared by every backend of
 * the process; a worker keeps the process alive only while it has work, and exits after
 * {@link workerIdle} without any (a process that stopped searching keeps no threads or their memory).
 * A worker that fails makes the pool unusable (the caller then works on the main thread); a job
 * answers null when it could not be done.
 */
class GrepWorkerPool {
  private readonly workers: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  broken = false;

  /** Workers running now. */
  get started(): number {
    return this.workers.length;
  }

  /** Workers at most: one per core (asked once: each ask is a system call), up to {@link MAX_WORKERS}. */
  readonly size = Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));

  /** The worker each batch's texts came from, until they are handed back ({@link recycle}). */
  private readonly madeBy = new WeakMap<ArrayBufferLike, Slot>();

  run(job: ScanJob): Promise<BatchScan | null> {
    return this.send({ job }) as Promise<BatchScan | null>;
  }

  /**
   * Hands the buffer a batch's texts came in back to the worker that made it, once they are
   * decoded: its next batches write into it. Each batch making a buffer of its own (freed later,
   * by this thread's collector) grew the process by about 20 MB of freed memory that glibc's
   * malloc kept, for a grep of 267,268 lines.
   */
  recycle(text: Uint8Array): void {
    const slot = this.madeBy.get(text.buffer);
    if (!slot || slot.retired || this.broken || text.buffer.byteLength > MAX_SPARE_BYTES) return;
    this.madeBy.delete(text.buffer);
    slot.spares.postMessage(text.buffer, [text.buffer as ArrayBuffer]);
  }

  /** {@link statFiles} of `stat` in a worker: null when the pool could not answer. */
  stat(stat: StatJob): Promise<Float64Array | null> {
    return this.send({ stat }) as Promise<Float64Array | null>;
  }

  /** {@link walkDirs} of `walk` in a worker: null when the pool could not answer. */
  walk(walk: WalkJob): Promise<WalkAnswer | null> {
    return this.send({ walk }) as Promise<WalkAnswer | null>;
  }

  private send(
    message: { job: ScanJob } | { stat: StatJob } | { walk: WalkJob },
  ): Promise<BatchScan | Float64Array | WalkAnswer | null> {
    const slot = this.pick();
    if (!slot) return Promise.resolve(null);
    const id = this.nextId++;
    if (slot.busy++ === 0) {
      slot.worker.ref();
      clearTimeout(slot.idle);
    }
    return new Promise((resolve) => {
      this.pending.set(id, {
        resolve: (result) => {
          if (--slot.busy === 0) {
            slot.worker.unref();
            slot.idle = setTimeout(() => this.retire(slot), workerIdle.ms);
            slot.idle.unref();
          }
          resolve(result);
        },
      });
      slot.worker.postMessage({ id, ...message });
    });
  }

  /** The least busy worker, started when fewer than {@link size} exist. */
  private pick(): Slot | undefined {
    if (this.broken) return undefined;
    const idle = this.workers.find((slot) => slot.busy === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) {
      try {
        return this.start();
      } catch {
        this.fail();
        return undefined;
      }
    }
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  /** Ends a worker that stayed idle; the next job starts another. */
  private retire(slot: Slot): void {
    if (slot.busy > 0 || this.broken) return;
    slot.retired = true;
    this.workers.splice(this.workers.indexOf(slot), 1);
    slot.spares.close();
    void slot.worker.terminate();
  }

  private start(): Slot {
    const { port1: spares, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { spares: port2 }, transferList: [port2] });
    worker.unref();
    // Neither end keeps a process alive: the worker reads its end only when asked.
    spares.unref();
    const slot: Slot = { worker, spares, busy: 0 };
    worker.on("message", ({ id, result }: { id: number; result: BatchScan | Float64Array | WalkAnswer | null }) => {
      if (result !== null && "text" in result) this.madeBy.set(result.text.buffer, slot);
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      waiting?.resolve(result);
    });
    worker.on("error", () => this.fail());
    worker.on("exit", () => {
      if (!slot.retired) this.fail();
    });
    this.workers.push(slot);
    return slot;
  }

  /** Stops every worker and answers every waiting batch with null: the callers search without. */
  private fail(): void {
    if (this.broken) return;
    this.broken = true;
    for (const { worker, spares } of this.workers) {
      spares.close();
      void worker.terminate();
    }
    for (const waiting of this.pending.values()) waiting.resolve(null);
    this.pending.clear();
  }
}

let pool: GrepWorkerPool | undefined;

/** The process's grep workers, or undefined where they cannot check containment (no procfs) or failed. */
export function grepWorkers(): GrepWorkerPool | undefined {
  if (!existsSync("/proc/self/fd")) return undefined;
  pool ??= new GrepWorkerPool();
  return pool.broken ? undefined : pool;
}
