/** Timing, medians and the shape of one result row. */

/** One line of the results table. */
export interface Row {
  group: string;
  measure: string;
  /** Median of ours (unit below), or null when it could not be measured. */
  ours: number | null;
  /** Median of the peer or baseline, or null. */
  theirs: number | null;
  /** What `theirs` is: the peer's name. */
  peer: string;
  unit: "ms" | "MB" | "KB";
  /** ours / theirs. */
  ratio: number | null;
  /** The goal in words ("<= 0.2x"), or "" for an informational row. */
  goal: string;
  /** Whether the goal is met; null when there is no goal or no number. */
  pass: boolean | null;
  /** Why a number is missing, what was checked, anything a reader must know. */
  note?: string;
  samples?: { ours: number[]; theirs: number[] };
}

/** Settings shared by every group. */
export interface TimingOptions {
  runs: number;
  warmup: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

/**
 * Times `fn` after `warmup` untimed runs: `runs` samples in ms. `setup` runs before every run
 * (warm-up included) and is not timed; its value is passed to `fn`.
 */
export async function timeRuns<S>(
  options: TimingOptions,
  setup: () => Promise<S> | S,
  fn: (state: S) => Promise<unknown> | unknown,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < options.warmup + options.runs; i++) {
    const state = await setup();
    collectGarbage?.();
    const start = performance.now();
    await fn(state);
    const elapsed = performance.now() - start;
    if (i >= options.warmup) samples.push(elapsed);
  }
  return samples;
}

/** One side of a paired measure: per-run setup (untimed) and the timed work. */
export interface Side<S> {
  setup?: () => Promise<S> | S;
  run: (state: S) => Promise<unknown> | unknown;
}

/**
 * Times two sides alternately (ours, theirs, ours, theirs...) after a warm-up of each, so that a
 * load change on the machine falls on both sides alike. Returns the samples of each in ms.
 */
export async function timePair<A, B>(
  options: TimingOptions,
  ours: Side<A>,
  theirs: Side<B>,
): Promise<{ ours: number[]; theirs: number[] }> {
  const once = async <S>(side: Side<S>): Promise<number> => {
    const state = (await side.setup?.()) as S;
    collectGarbage?.();
    const start = performance.now();
    await side.run(state);
    return performance.now() - start;
  };
  for (let i = 0; i < options.warmup; i++) {
    await once(ours);
    await once(theirs);
  }
  const result = { ours: [] as number[], theirs: [] as number[] };
  for (let i = 0; i < options.runs; i++) {
    // Alternate which side goes first, so neither always runs right after the other's garbage.
    if (i % 2 === 0) {
      result.ours.push(await once(ours));
      result.theirs.push(await once(theirs));
    } else {
      result.theirs.push(await once(theirs));
      result.ours.push(await once(ours));
    }
  }
  return result;
}

/** Times `fn` with no per-run setup. */
export function time(options: TimingOptions, fn: () => Promise<unknown> | unknown): Promise<number[]> {
  return timeRuns(options, () => undefined, fn);
}

/** A row comparing two sets of samples against a maximum ratio (null: informational). */
export function compare(
  base: { group: string; measure: string; peer: string; maxRatio: number | null; note?: string },
  samples: { ours: number[]; theirs: number[] },
): Row {
  const { ours, theirs } = samples;
  const o = median(ours);
  const t = median(theirs);
  const ratio = t > 0 ? o / t : null;
  return {
    group: base.group,
    measure: base.measure,
    ours: o,
    theirs: t,
    peer: base.peer,
    unit: "ms",
    ratio,
    goal: base.maxRatio === null ? "" : `<= ${base.maxRatio}x`,
    pass: base.maxRatio === null || ratio === null ? null : ratio <= base.maxRatio,
    ...(base.note ? { note: base.note } : {}),
    samples: { ours, theirs },
  };
}

/** A row for a group or measure that could not run. */
export function unavailable(group: string, measure: string, peer: string, goal: string, reason: string): Row {
  return {
    group,
    measure,
    ours: null,
    theirs: null,
    peer,
    unit: "ms",
    ratio: null,
    goal,
    pass: null,
    note: `not available: ${reason}`,
  };
}

/** Throws when a result differs from what the corpus guarantees: a fast wrong answer is no result. */
export function expectCount(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: expected ${expected} matches, got ${actual}`);
}
