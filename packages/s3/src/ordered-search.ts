import { setMaxListeners } from "node:events";
import { type GrepMatch, type GrepTally, grepAnswerTooLarge } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";
import { s3Fault } from "./errors.js";
import type { LineMatch } from "./line-search.js";

/** One object to search, in path order. */
export interface Candidate {
  path: string;
  key: string;
}

/** Chooses how many searches run at once, from their timings (see `AdaptiveConcurrency`). */
export interface InFlightLimit {
  /** Searches that may run now (at most `concurrency`). */
  readonly limit: number;
  /** A search starts: a token for {@link finished}. */
  started(): number;
  /** The search of `token` is over: `ok` when it answered, false when it failed or was aborted. */
  finished(token: number, ok: boolean): void;
}

export interface OrderedSearchOptions {
  /** Most objects searched at once (`grepConcurrency`): the hard cap. */
  concurrency: number;
  /** Fewer at once while this says so (adaptive concurrency); the cap alone when omitted. */
  limit?: InFlightLimit | undefined;
  /** Matches after which nothing later can change the answer (`maxCount + 1`). */
  wanted: number;
  /**
   * Counts the answer against grep's bounds: once it passes them, the search stops as for
   * `wanted` and answers `too_large`. Without a cap (`wanted` infinite) every match found is in
   * the answer, so each object's matches count as soon as its search ends, in any order; with a
   * cap only the first `wanted - 1` in path order are, so they count as they are finalised.
   */
  tally?: GrepTally | undefined;
  /** Searches one object for at most `room` matches; rejects on a hard failure. */
  search: (candidate: Candidate, room: number, signal: AbortSignal) => Promise<LineMatch[]>;
  /** The caller's cancellation. */
  signal?: AbortSignal | undefined;
}

/**
 * A bounded pool that searches candidates as they arrive (in path order, while the listing is
 * still running) and finalises them strictly in that order.
 *
 * - At most `concurrency` searches run at once (fewer while `limit` says so), and none starts more
 *   than a window of `4 × concurrency` past the first unfinished one, so that the matches held
 *   while waiting for a slow object stay bounded.
 * - Once the finalised prefix holds `wanted` matches, nothing later can change the answer: every
 *   request in flight is aborted, the listing too (through {@link signal}), and the answer holds
 *   at most a few matches past `wanted - 1` (the facade caps it and reports the truncation).
 * - Once the answer counted on `tally` passes grep's bounds, everything stops the same way and
 *   the answer is `too_large`: no more than the bounds (and the searches in flight) is ever held.
 * - The first hard failure (of a search or of the listing) stops everything and is the answer.
 */
export class OrderedSearch {
  private readonly options: OrderedSearchOptions;
  private readonly controller = new AbortController();
  private readonly window: number;
  /** True when `wanted` is finite: only the first `wanted - 1` matches in path order are answered. */
  private readonly capped: boolean;
  /** Candidates not finalised yet, by index. */
  private readonly slots = new Map<number, { candidate: Candidate; lines?: LineMatch[] }>();
  private readonly matches: GrepMatch[] = [];
  private added = 0;
  private next = 0;
  private finalised = 0;
  private active = 0;
  private ended = false;
  private stopped = false;
  private failed: Fault | undefined;
  private resolve!: (answer: { matches: GrepMatch[] } | Fault) => void;
  private settled = false;
  private roomWaiters: Array<() => void> = [];
  /** The answer: the matches in path order, or the first hard failure. */
  readonly done: Promise<{ matches: GrepMatch[] } | Fault>;

  constructor(options: OrderedSearchOptions) {
    this.options = options;
    this.window = options.concurrency * 4;
    this.capped = Number.isFinite(options.wanted);
    // One signal stops every in-flight GET (each adds listeners: the SDK's and the body's), so more
    // than Node's default of 10 is expected here, not a leak.
    setMaxListeners(4 * this.window + 8, this.controller.signal);
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    options.signal?.addEventListener("abort", this.cancel, { once: true });
    if (options.signal?.aborted) this.cancel();
  }

  /** Aborted once the answer is known: the producer's requests should stop too. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Appends the next candidate (in path order). */
  add(candidate: Candidate): void {
    if (this.stopped || this.ended) return;
    this.slots.set(this.added++, { candidate });
    this.pump();
  }

  /**
   * Resolves once fewer than `lookahead` added candidates wait to start (or the search stopped):
   * the producer lists the next page only when the pool is about to need it.
   */
  room(lookahead: number): Promise<void> {
    if (this.stopped || this.added - this.next < lookahead) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.stopped || this.added - this.next < lookahead) resolve();
        else this.roomWaiters.push(check);
      };
      this.roomWaiters.push(check);
    });
  }

  /** No more candidates. */
  end(): void {
    this.ended = true;
    this.settleIfDone();
  }

  /** The producer failed: the search stops with that fault (unless it already stopped). */
  fail(error: unknown): void {
    if (!this.stopped) this.failed ??= s3Fault(error);
    this.stop();
    this.ended = true;
    this.settleIfDone();
  }

  private readonly cancel = () => {
    this.failed ??= { fault: "aborted" };
    this.stop();
    this.settleIfDone();
  };

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.controller.abort();
    this.wakeProducer();
  }

  private wakeProducer(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const check of waiters) check();
  }

  private pump(): void {
    while (
      !this.stopped &&
      this.active < this.inFlightLimit() &&
      this.next < this.added &&
      this.next < this.finalised + this.window
    ) {
      const index = this.next++;
      const slot = this.slots.get(index) as { candidate: Candidate; lines?: LineMatch[] };
      this.active++;
      const limit = this.options.limit;
      const token = limit?.started() ?? 0;
      // Matches already finalised (and counted) only grow, so the room left now bounds what this
      // file can add: one past the cap, or one past the bound on matching lines.
      const room = Math.min(
        this.options.wanted - this.matches.length,
        this.options.tally?.room ?? Number.POSITIVE_INFINITY,
      );
      this.options
        .search(slot.candidate, room, this.controller.signal)
        .then(
          (lines) => {
            limit?.finished(token, !this.stopped);
            slot.lines = lines;
            if (!this.capped && !this.stopped) this.count(lines, lines.length);
          },
          (error: unknown) => {
            limit?.finished(token, false);
            // After a stop, aborted requests and destroyed bodies fail by design.
            if (this.stopped) return;
            this.failed ??= { ...s3Fault(error), path: slot.candidate.path };
            this.stop();
          },
        )
        .finally(() => {
          this.active--;
          this.finalise();
          this.pump();
          this.settleIfDone();
        });
    }
    this.wakeProducer();
  }

  private inFlightLimit(): number {
    const { concurrency, limit } = this.options;
    return limit ? Math.max(1, Math.min(concurrency, limit.limit)) : concurrency;
  }

  private finalise(): void {
    while (!this.stopped && this.finalised < this.added) {
      const slot = this.slots.get(this.finalised);
      if (slot?.lines === undefined) break;
      this.slots.delete(this.finalised);
      this.finalised++;
      const { path } = slot.candidate;
      if (this.capped) this.count(slot.lines, this.options.wanted - 1 - this.matches.length);
      for (const m of slot.lines) this.matches.push({ path, line: m.line, text: m.text });
      if (this.matches.length >= this.options.wanted) this.stop();
    }
  }

  /** Counts the first `upTo` of `lines` on the tally; past its bounds, stops with `too_large`. */
  private count(lines: readonly LineMatch[], upTo: number): void {
    const tally = this.options.tally;
    if (!tally || upTo <= 0 || lines.length === 0) return;
    if (tally.add(upTo >= lines.length ? lines : lines.slice(0, upTo))) return;
    this.failed ??= grepAnswerTooLarge(tally);
    this.stop();
  }

  private settleIfDone(): void {
    if (this.settled || this.active > 0) return;
    if (!this.stopped && !(this.ended && this.finalised === this.added)) return;
    this.settled = true;
    this.options.signal?.removeEventListener("abort", this.cancel);
    this.slots.clear();
    this.resolve(this.failed ?? { matches: this.matches });
  }
}
