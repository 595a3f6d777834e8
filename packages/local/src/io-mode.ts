import { blockingFs, type FsCalls, threadpoolFs } from "./fs-calls.js";

/** Longest run of blocking calls before the event loop gets a turn (timers, sockets, abort signals). */
const SLICE_MS = 10;

/** When the current run of blocking calls began (any backend); undefined once the event loop had a turn. */
let sliceStart: number | undefined;

/**
 * Which {@link FsCalls} an operation makes. With `syncMaxBytes` > 0, path resolution and metadata
 * calls block (a few µs each on a local disk), and so does moving file contents of up to that many
 * bytes; larger contents go through the threadpool. With 0, every call goes through the threadpool.
 */
export class IoMode {
  /** Every call through the threadpool. */
  static readonly threadpool = new IoMode(0);

  constructor(readonly syncMaxBytes: number) {}

  /** For path resolution, open, stat, close, rename and mkdir. */
  get metadata(): FsCalls {
    return this.syncMaxBytes > 0 ? blockingFs : threadpoolFs;
  }

  /** For reading or writing `size` bytes of file contents. */
  forContent(size: number): FsCalls {
    return this.syncMaxBytes > 0 && size <= this.syncMaxBytes ? blockingFs : threadpoolFs;
  }

  /** For a write of `size` bytes: blocking throughout when it is small, the threadpool throughout otherwise. */
  forWrite(size: number): IoMode {
    return size <= this.syncMaxBytes ? this : IoMode.threadpool;
  }

  /**
   * Nothing, or (once blocking calls have held the event loop for {@link SLICE_MS}) a promise that
   * resolves after one event-loop turn. Small-file calls settle in microtasks, so without this a
   * loop of awaited calls would never let timers or sockets run until it ended.
   */
  pace(): Promise<void> | undefined {
    if (this.syncMaxBytes === 0) return undefined;
    const now = performance.now();
    if (sliceStart === undefined) {
      sliceStart = now;
      setImmediate(() => {
        sliceStart = undefined;
      });
      return undefined;
    }
    if (now - sliceStart < SLICE_MS) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  }
}
