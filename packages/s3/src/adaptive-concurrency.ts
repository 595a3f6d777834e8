/**
 * How many GETs grep keeps in flight, chosen from the latency it observes (a delay-based rule in
 * the spirit of TCP Vegas), never above the configured cap (`grepConcurrency`).
 *
 * Work is measured in rounds of about one round trip (`max(limit, 4)` completions). At the end of
 * a round:
 *
 * - the round's mean GET latency is kept; the lowest round mean seen is the base round trip (a
 *   mean, not the single fastest GET, so that one lucky answer among slow ones is not taken for an
 *   empty queue);
 * - the requests queued at the server are estimated as the mean number in flight during the round
 *   minus what the throughput explains at the base round trip: `inFlight - completions/s × base`.
 *   A store that answers in parallel (S3: latency-bound) queues nothing however many are in
 *   flight; a server that serialises requests (or a slow small one) queues everything past its
 *   knee;
 * - little queued (under a fifth of the limit, at least 1) and the limit actually reached: grow,
 *   doubling until the first shrink, then one at a time; much queued (over two fifths, at least
 *   2): shrink by one, as fewer requests in flight give the same throughput with less memory and
 *   less load on the server; in between, hold.
 *
 * The latency can also rise for reasons of its own (the network, the store's load): when requests
 * queue, the latency falls about as the limit does; if three shrinks in a row after the highest
 * latency of a run of shrinks lowered it by less than half that, the base round trip is stale and
 * is set to the current latency.
 */

/** Completions in the shortest round. */
const MIN_ROUND = 4;
/** Queued share of the limit under which the limit grows. */
const GROW_BELOW = 0.2;
/** Queued share of the limit over which it shrinks. */
const SHRINK_ABOVE = 0.4;
/** Shrinks after the highest latency of a run of shrinks after which a latency that did not fall is the new base. */
const STALE_AFTER = 3;
/** Share of the limit's fall that the latency must follow for the shrinks to count as working. */
const RESPONSE = 0.5;

export interface AdaptiveConcurrencyOptions {
  /** The hard maximum of requests in flight (`grepConcurrency`), at least 1. */
  max: number;
  /** The limit to start from. Default: 4, or `max` if smaller. */
  initial?: number;
  /** Milliseconds of a monotonic clock. Default: `performance.now`. */
  now?: () => number;
}

/** One round's measures, for tests and diagnostics. */
export interface RoundReport {
  /** The limit during the round and after it. */
  limit: number;
  next: number;
  /** Mean GET latency of the round and the base round trip, in ms. */
  latency: number;
  base: number;
  /** Mean requests in flight during the round and the estimate of those queued. */
  inFlight: number;
  queued: number;
}

/** The in-flight limit of one grep; consult {@link limit} before starting each request. */
export class AdaptiveConcurrency {
  readonly max: number;
  private readonly now: () => number;
  private current: number;
  private active = 0;
  private slowStart = true;
  private base = Number.POSITIVE_INFINITY;
  /** Rounds that shrank in a row, and the highest latency among them (with its limit). */
  private shrinks = 0;
  private peakLatency = 0;
  private peakLimit = 0;
  private sincePeak = 0;
  // The round under way.
  private roundStart: number;
  private lastChange: number;
  private busy = 0;
  private completions = 0;
  private latencySum = 0;
  private limited = false;
  /** Called after each round (tests, diagnostics). */
  onRound: ((report: RoundReport) => void) | undefined;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.max = Math.max(1, Math.floor(options.max));
    this.now = options.now ?? (() => performance.now());
    this.current = Math.min(this.max, Math.max(1, Math.floor(options.initial ?? 4)));
    this.roundStart = this.now();
    this.lastChange = this.roundStart;
  }

  /** Requests that may be in flight now: between 1 and {@link max}. */
  get limit(): number {
    return this.current;
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.active;
  }

  /** A request starts: returns its start time, to pass to {@link finished}. */
  started(): number {
    const now = this.advance();
    this.active++;
    if (this.active >= this.current) this.limited = true;
    return now;
  }

  /**
   * The request started at `startedAt` is over. Only answers that arrived (`ok`) are latency
   * samples: an aborted or failed request says nothing about the server's queue.
   */
  finished(startedAt: number, ok: boolean): void {
    const now = this.advance();
    this.active = Math.max(0, this.active - 1);
    if (!ok || this.max === 1) return;
    this.completions++;
    this.latencySum += Math.max(0, now - startedAt);
    if (this.completions >= Math.max(this.current, MIN_ROUND) && now > this.roundStart) this.endRound(now);
  }

  /** Integrates the requests in flight up to now; returns now. */
  private advance(): number {
    const now = this.now();
    this.busy += this.active * Math.max(0, now - this.lastChange);
    this.lastChange = now;
    return now;
  }

  private endRound(now: number): void {
    const elapsed = now - this.roundStart;
    const latency = this.latencySum / this.completions;
    const inFlight = this.busy / elapsed;
    this.base = Math.min(this.base, latency);
    const queued = Math.max(0, inFlight - (this.completions / elapsed) * this.base);
    const limit = this.current;
    if (queued > Math.max(2, SHRINK_ABOVE * limit)) {
      if (this.shrinks === 0 || latency > this.peakLatency) {
        this.peakLatency = latency;
        this.peakLimit = limit;
        this.sincePeak = 0;
      }
      this.shrinks++;
      this.slowStart = false;
      const expectedFall = RESPONSE * (1 - limit / this.peakLimit);
      if (this.sincePeak >= STALE_AFTER && latency > (1 - expectedFall) * this.peakLatency) {
        // Fewer in flight did not lower the latency: it rose for reasons of its own.
        this.base = latency;
        this.shrinks = 0;
      } else {
        this.current = Math.max(1, limit - 1);
        this.sincePeak++;
      }
    } else {
      this.shrinks = 0;
      if (queued < Math.max(1, GROW_BELOW * limit) && this.limited) {
        this.current = Math.min(this.max, this.slowStart ? limit * 2 : limit + 1);
      }
    }
    this.onRound?.({ limit, next: this.current, latency, base: this.base, inFlight, queued });
    this.roundStart = now;
    this.busy = 0;
    this.completions = 0;
    this.latencySum = 0;
    this.limited = this.active >= this.current;
  }
}
