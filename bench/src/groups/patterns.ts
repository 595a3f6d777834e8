/**
 * The cost of a glob pattern an agent controls: every pattern of up to 1,000 characters, against
 * every name of up to 255 characters, must be compiled and matched (or refused) in under 50 ms.
 * Measured on hand-made worst cases for each mechanism (brace counting, the wildcard automaton,
 * `**` segments, extglob position sets, classes) and on random patterns from a hostile grammar;
 * the row reports the slowest pattern. Before this work, `{a,b}` × 22 took 18.9 s and `+(*a)`
 * against 28 `a`s and an `X` took 16.8 s (picomatch's regex backtracking).
 */
import { parseGlobArgs } from "@deepfs/core";
import type { BenchContext, BenchGroup } from "../context.js";
import { median, type Row } from "../measure.js";

const GROUP = "glob patterns";
const BUDGET_MS = 50;

const NAMES = [
  "a".repeat(255),
  `${"a".repeat(254)}X`,
  "aX".repeat(127),
  `${"ab".repeat(127)}b`,
  "x".repeat(120) + ".".repeat(15) + "a".repeat(120),
];

const fill = (unit: string, length = 1_000) => unit.repeat(Math.floor(length / unit.length));

/** Hand-made worst cases, one or more per mechanism, each at most 1,000 characters. */
const WORST: Array<[string, string]> = [
  ["braces past the cap", fill("{a,b}")],
  ["1,024 alternatives of 15 characters", `${"{a,b,c,d}".repeat(5)}*a*a*a*a*a*`],
  ["stars and literals", `${fill("*a", 998)}b`],
  ["globstar segments", `${fill("**/", 996)}*a`],
  ["classes", fill("[a-z]")],
  ["question marks", fill("?")],
  ["extglob closure +(*a)", `+(*a)${fill("*a", 990)}`],
  ["extglob chain", fill("*(a|aa)", 126)],
  ["negated extglobs", fill("!(*a)", 125)],
  ["extglob budget", `@(${fill("*a|", 120)})${fill("*a", 870)}`],
  ["nested extglob (refused)", fill("+(a|*(b))")],
];

const ATOMS = ["*", "**", "?", "a", "aa", "[ab]", "{a,b}", "{a,{b,c}}", "@(a|b)", "*(a)", "+(*a)", "!(a)", "\\*", "/"];

function randomPatterns(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let pattern = "";
    const target = 50 + Math.floor(random() * 950);
    while (pattern.length < target) pattern += ATOMS[Math.floor(random() * ATOMS.length)];
    out.push(pattern.slice(0, 1_000));
  }
  return out;
}

/** Compile (or refuse) the pattern and match all five names: more than one name's worth, to be safe. */
function costOf(pattern: string, runs: number): number {
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    // What a backend's glob does: validate and compile once, then test each listed name.
    const parsed = parseGlobArgs(pattern, "/");
    if (parsed.ok) for (const name of NAMES) parsed.query.matches(`/${name}`);
    samples.push(performance.now() - start);
  }
  return median(samples);
}

export const patternsGroup: BenchGroup = {
  name: "patterns",
  async run(ctx: BenchContext): Promise<Row[]> {
    const runs = ctx.quick ? 1 : 3;
    const measured = WORST.map(([label, pattern]) => ({ label, ms: costOf(pattern, runs) }));
    const random = randomPatterns(ctx.quick ? 50 : 500, ctx.seed);
    const randomWorst = random.reduce(
      (worst, pattern) => {
        const ms = costOf(pattern, 1);
        return ms > worst.ms ? { label: `random ${JSON.stringify(pattern.slice(0, 40))}…`, ms } : worst;
      },
      { label: "", ms: 0 },
    );
    const rows: Row[] = measured.map(({ label, ms }) => row(label, ms));
    rows.push(row(`slowest of ${random.length} random patterns (${randomWorst.label})`, randomWorst.ms));
    const worst = rows.reduce((max, r) => Math.max(max, r.ours ?? 0), 0);
    rows.push(row(`slowest pattern of all (compile + match ${NAMES.length} names of 255 characters)`, worst));
    return rows;
  },
};

function row(measure: string, ms: number): Row {
  return {
    group: GROUP,
    measure,
    ours: ms,
    theirs: BUDGET_MS,
    peer: "the 50 ms budget",
    unit: "ms",
    ratio: ms / BUDGET_MS,
    goal: "<= 1x",
    pass: ms <= BUDGET_MS,
  };
}
