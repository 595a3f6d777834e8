import { type GrepMatch, type GrepQuery, GrepTally, grepAnswerTooLarge } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";

/**
 * One grep's answer counted as it is built, against the query's bounds (core's `GrepTally`), and
 * the means to stop the search once the answer passes them: {@link signal} stops the walk and
 * ripgrep, {@link stopFlag} (memory shared with the workers) the batches they still have queued
 * or are searching. Every engine of the backend adds what it keeps here and answers {@link fault}
 * as soon as {@link over} is true, so the process never holds much more than the bounds: what it
 * counted, and the batch or file that went over.
 */
export class GrepBudget {
  private readonly tally: GrepTally;
  private readonly controller = new AbortController();
  /** Set to 1 (shared with the workers' jobs) once the answer is over: they search no more file. */
  readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));

  constructor(query: Pick<GrepQuery, "maxCount" | "limits">) {
    this.tally = new GrepTally(query);
  }

  /** Counts matches kept for the answer; false (and the search told to stop) once it is over. */
  add(matches: readonly GrepMatch[]): boolean {
    if (this.tally.add(matches)) return true;
    this.stop();
    return false;
  }

  /** True once the answer counted passed a bound. */
  get over(): boolean {
    return !this.tally.within;
  }

  /** Aborted once the answer is over: the walk and ripgrep stop. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** More matches to collect at most (one past the count bound, so that going over shows), or `Infinity`. */
  get room(): number {
    return this.tally.room;
  }

  /**
   * Characters (UTF-16 code units) of matching lines that may still be collected; a batch that
   * collects more is over the bound whatever the others hold.
   */
  get textRoom(): number {
    return this.tally.textRoom;
  }

  /** The `too_large` answer of a grep that went over. */
  fault(): Fault {
    return grepAnswerTooLarge(this.tally);
  }

  private stop(): void {
    Atomics.store(this.stopFlag, 0, 1);
    this.controller.abort();
  }
}
