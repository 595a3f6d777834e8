import { describe, expect, it } from "vitest";
import { AdaptiveConcurrency, type RoundReport } from "../src/adaptive-concurrency.js";
import { OrderedSearch } from "../src/ordered-search.js";

/** A server model: when a request sent at `start` (the `index`-th) is answered. */
type Server = (start: number, index: number) => number;

/** A deterministic pseudo-random sequence in [0, 1) (a linear congruential generator). */
function jitter(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Answers after `latency(start)` ms whatever the number in flight: a store that serves in parallel. */
const parallel =
  (latency: (start: number) => number): Server =>
  (start) =>
    start + latency(start);

/** One request at a time, `service` ms each, behind `network` ms of round trip: queues past its knee. */
function serialising(network: number, service: number): Server {
  let free = 0;
  return (start) => {
    const begin = Math.max(start + network / 2, free);
    free = begin + service;
    return free + network / 2;
  };
}

interface Run {
  /** The limit after each completion. */
  limits: number[];
  rounds: RoundReport[];
  maxInFlight: number;
  /** When the last answer arrived, ms. */
  end: number;
}

/**
 * Drives the controller the way the GET pool does (start while under the limit, one completion at
 * a time) against a server model, on a simulated clock.
 */
function simulate(max: number, total: number, server: Server): Run {
  let clock = 0;
  const control = new AdaptiveConcurrency({ max, now: () => clock });
  const run: Run = { limits: [], rounds: [], maxInFlight: 0, end: 0 };
  control.onRound = (report) => run.rounds.push(report);
  const pending: Array<{ done: number; token: number }> = [];
  let started = 0;
  while (started < total || pending.length > 0) {
    while (started < total && control.inFlight < control.limit) {
      pending.push({ done: server(clock, started++), token: control.started() });
      run.maxInFlight = Math.max(run.maxInFlight, control.inFlight);
    }
    pending.sort((a, b) => a.done - b.done);
    const next = pending.shift() as { done: number; token: number };
    clock = next.done;
    control.finished(next.token, true);
    run.limits.push(control.limit);
  }
  run.end = clock;
  return run;
}

const tail = (values: number[], share: number) => values.slice(Math.floor(values.length * (1 - share)));

describe("AdaptiveConcurrency", () => {
  it("starts at 4, or at the cap when it is smaller, and never leaves [1, cap]", () => {
    expect(new AdaptiveConcurrency({ max: 16 }).limit).toBe(4);
    expect(new AdaptiveConcurrency({ max: 2 }).limit).toBe(2);
    expect(new AdaptiveConcurrency({ max: 0 }).limit).toBe(1);
    expect(new AdaptiveConcurrency({ max: 16, initial: 40 }).limit).toBe(16);
    for (const max of [1, 2, 3, 16]) {
      const run = simulate(max, 500, serialising(20, 3));
      expect(run.maxInFlight).toBeLessThanOrEqual(max);
      expect(Math.min(...run.limits)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...run.limits)).toBeLessThanOrEqual(max);
    }
  });

  it("with a cap of 1 is sequential", () => {
    const run = simulate(
      1,
      200,
      parallel(() => 20),
    );
    expect(run.maxInFlight).toBe(1);
    expect(new Set(run.limits)).toEqual(new Set([1]));
  });

  it("reaches the cap quickly against a latency-bound store, and stays there despite jitter", () => {
    const random = jitter(7);
    const run = simulate(
      16,
      3000,
      parallel(() => 20 + 10 * random()),
    );
    // 4 → 8 → 16 in two rounds (4 then 8 answers).
    expect(run.limits.indexOf(16)).toBeLessThanOrEqual(12);
    const settled = tail(run.limits, 0.9);
    expect(settled.filter((limit) => limit === 16).length / settled.length).toBeGreaterThan(0.9);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(13);
    // About the time of 16 in flight at a 25 ms mean: 3000 / 16 × 25 ≈ 4.7 s.
    expect(run.end).toBeLessThan(5_500);
  });

  it("settles low against a server that serialises, with the same throughput", () => {
    // 3 ms per request one at a time behind 20 ms: throughput tops out at ~8 in flight (23 / 3).
    const run = simulate(16, 3000, serialising(20, 3));
    const settled = tail(run.limits, 0.5);
    const mean = settled.reduce((a, b) => a + b, 0) / settled.length;
    expect(mean).toBeGreaterThanOrEqual(8);
    expect(mean).toBeLessThanOrEqual(13);
    // The server is busy all along: 3000 × 3 ms, plus the first round trip.
    expect(run.end).toBeLessThan(3000 * 3 * 1.05 + 23);
  });

  it("does not grow against a slow server that already queues at the start, never below 1", () => {
    const run = simulate(16, 400, serialising(0, 50));
    expect(Math.min(...run.limits)).toBeGreaterThanOrEqual(1);
    // (The last round drains the pool: fewer in flight than the limit, nothing queued.)
    expect(Math.max(...run.limits.slice(0, -4))).toBeLessThanOrEqual(4);
  });

  it("adapts when the latency of a latency-bound store jumps", () => {
    // 20 ms, then 60 ms from t = 2 s on: the queue estimate first blames the requests in flight;
    // shrinking does not lower the latency, so the base round trip is relearned and the cap regained.
    const run = simulate(
      16,
      6000,
      parallel((start) => (start < 2_000 ? 20 : 60)),
    );
    const after = run.rounds.filter((round) => round.latency >= 59);
    expect(after.length).toBeGreaterThan(10);
    expect(Math.min(...after.map((round) => round.next))).toBeGreaterThanOrEqual(8);
    expect(tail(run.limits, 0.5).every((limit) => limit === 16)).toBe(true);
  });

  it("backs off when a store that answered in parallel starts to serialise, and grows back when it stops", () => {
    const slow = serialising(20, 4);
    let phase = 0;
    const server: Server = (start, index) => {
      phase = index < 1500 ? 0 : index < 4000 ? 1 : 2;
      return phase === 1 ? slow(start, index) : start + 24;
    };
    const run = simulate(16, 6000, server);
    expect(Math.max(...run.limits.slice(3000, 4000))).toBeLessThanOrEqual(13);
    expect(run.limits.slice(-500).every((limit) => limit === 16)).toBe(true);
  });

  it("ignores requests that failed or were aborted", () => {
    let clock = 0;
    const control = new AdaptiveConcurrency({ max: 16, now: () => clock });
    const tokens = Array.from({ length: 4 }, () => control.started());
    clock = 500;
    for (const token of tokens) control.finished(token, false);
    expect(control.inFlight).toBe(0);
    expect(control.limit).toBe(4);
  });
});

describe("OrderedSearch with an in-flight limit", () => {
  it("starts no more searches than the limit says, never more than the cap, and reports each one", async () => {
    const finished: boolean[] = [];
    const limit = { limit: 2, started: () => 0, finished: (_token: number, ok: boolean) => void finished.push(ok) };
    let active = 0;
    let peak = 0;
    let peakUnderTwo = 0;
    const pool = new OrderedSearch({
      concurrency: 3,
      limit,
      wanted: 100,
      search: async (candidate) => {
        peak = Math.max(peak, ++active);
        if (limit.limit === 2) peakUnderTwo = Math.max(peakUnderTwo, active);
        await new Promise((resolve) => setTimeout(resolve, 2));
        active--;
        // The limit rises above the cap halfway: the cap still holds.
        if (candidate.key === "k10") limit.limit = 50;
        if (candidate.key === "k29") throw new Error("boom");
        return [];
      },
    });
    for (let i = 0; i < 30; i++) pool.add({ path: `/f${i}`, key: `k${i}` });
    pool.end();
    const answer = await pool.done;
    expect("fault" in answer).toBe(true);
    expect(peakUnderTwo).toBe(2);
    expect(peak).toBe(3);
    expect(finished.filter((ok) => ok)).toHaveLength(29);
    expect(finished.filter((ok) => !ok)).toHaveLength(1);
  });
});
