/**
 * LocalBackend on a real tree (issue 24): the repository's own `node_modules/.pnpm`, searched in
 * place (read-only, symlinks not followed), against `rg -F -n` and fast-glob on the same tree.
 * Every result count is checked against the peer's before anything is timed and on every run: a
 * count that differs aborts the group.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { LocalBackend } from "@deepfs/local";
import fastGlob from "fast-glob";
import type { BenchContext } from "../context.js";
import { compare, expectCount, type Row, time, timePair, unavailable } from "../measure.js";
import { dependencyStore } from "../real-corpus.js";
import { REAL_NEEDLES } from "../real-needles.js";

const GROUP = "LocalBackend";
const RG_PEER = "`rg -F -n -uu` (process spawn included)";
const RG_GOAL: Record<Engine, number> = {
  // ripgrep engine: the bound on top of the rg it runs.
  ripgrep: 1.1,
  // builtin: what a user gets without installing anything (no npm package ships rg without a download).
  builtin: 1.5,
};
const GLOB = "**/*.ts";

type Engine = "ripgrep" | "builtin";

/**
 * Lines `rg` prints for a literal search of the whole tree, as a user would run it to see the same
 * files grep searches: hidden files and ignored files included (`-uu`), symlinks not followed.
 * The output is counted as it streams (no string of it is built).
 */
function ripgrepLines(root: string, needle: string): Promise<number> {
  const args = ["-F", "-n", "--no-heading", "--with-filename", "--hidden", "--no-ignore", "--", needle, root];
  return new Promise((resolve, reject) => {
    const child = spawn("rg", args, { stdio: ["ignore", "pipe", "ignore"] });
    let lines = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 || code === 1 ? resolve(lines) : reject(new Error(`rg exited ${code}`))));
  });
}

async function ourGrep(backend: LocalBackend, needle: string): Promise<number> {
  const result = await backend.grep(needle, "/");
  if (result.error) throw new Error(`grep ${needle}: ${result.error}`);
  return result.matches?.length ?? 0;
}

function peerGlob(root: string, stats = false): Promise<unknown[]> {
  return fastGlob(GLOB, { cwd: root, onlyFiles: true, followSymbolicLinks: false, dot: true, stats });
}

/** The real-tree rows of the `local` group; rows that cannot run say why. */
export async function realTreeRows(ctx: BenchContext): Promise<Row[]> {
  const root = dependencyStore();
  const rows: Row[] = [];
  const label = (what: string) => `real tree: ${what}`;
  if (!existsSync(root)) {
    rows.push(unavailable(GROUP, label("grep / glob"), RG_PEER, "", `${root} is missing (pnpm install)`));
    return rows;
  }
  const backends: Record<Engine, LocalBackend> = {
    ripgrep: new LocalBackend({ rootDir: root, readOnly: true, grepEngine: "ripgrep" }),
    builtin: new LocalBackend({ rootDir: root, readOnly: true, grepEngine: "builtin" }),
  };
  let rgReady = true;
  try {
    await promisify(execFile)("rg", ["--version"]);
  } catch (error) {
    rgReady = false;
    for (const engine of ["ripgrep", "builtin"] as const) {
      const goal = `<= ${RG_GOAL[engine]}x`;
      rows.push(unavailable(GROUP, label(`grep (engine ${engine})`), RG_PEER, goal, `rg: ${(error as Error).message}`));
    }
  }
  // The shared needle set; with `--quick`, its first two (a rare identifier, a very common keyword).
  const needles = REAL_NEEDLES.slice(0, ctx.quick ? 2 : REAL_NEEDLES.length).map((n) => n.needle);
  for (const needle of rgReady ? needles : []) {
    // The count both sides must give, from rg, before anything is timed.
    const expected = await ripgrepLines(root, needle);
    for (const engine of ["ripgrep", "builtin"] as const) {
      const measure = label(`grep \`${needle}\` (${expected.toLocaleString("en-US")} lines, engine ${engine})`);
      ctx.log(`local: ${measure}`);
      expectCount(`ours (${engine})`, await ourGrep(backends[engine], needle), expected);
      const samples = await timePair(
        ctx.timing,
        { run: async () => expectCount(`ours (${engine})`, await ourGrep(backends[engine], needle), expected) },
        { run: async () => expectCount("rg", await ripgrepLines(root, needle), expected) },
      );
      rows.push(compare({ group: GROUP, measure, peer: RG_PEER, maxRatio: RG_GOAL[engine] }, samples));
      // The answer's own cost, where it is large enough to matter.
      if (engine === "builtin" && expected >= LIMIT_FROM_LINES) {
        rows.push(await answerLimitRow(ctx, backends.builtin, needle, samples.ours, label));
      }
    }
  }

  const expectedTs = (await peerGlob(root)).length;
  const ourGlob = async () => {
    const result = await backends.builtin.glob(GLOB, "/");
    if (result.error) throw new Error(`glob: ${result.error}`);
    expectCount("ours glob", result.files?.length ?? 0, expectedTs);
  };
  const measure = label(`glob ${GLOB} (${expectedTs.toLocaleString("en-US")} files, with size and time)`);
  ctx.log(`local: ${measure}`);
  await ourGlob();
  rows.push(
    compare(
      { group: GROUP, measure, peer: "fast-glob 3 (paths only, symlinks not followed)", maxRatio: 1.0 },
      await timePair(
        ctx.timing,
        { run: ourGlob },
        { run: async () => expectCount("fast-glob", (await peerGlob(root)).length, expectedTs) },
      ),
    ),
  );
  // The same with fast-glob's `stats: true` (an lstat per match), what ours answers: context, no goal.
  rows.push(
    compare(
      { group: GROUP, measure, peer: "fast-glob 3 with `stats: true` (size and time, as ours)", maxRatio: null },
      await timePair(
        ctx.timing,
        { run: ourGlob },
        { run: async () => expectCount("fast-glob", (await peerGlob(root, true)).length, expectedTs) },
      ),
    ),
  );
  return rows;
}

/** Answers of fewer lines get no limit row: building them is too small a part of the search to tell. */
const LIMIT_FROM_LINES = 10_000;
/** Matching lines per batch of the answer limit (the workers' batches hold about as many for `return`). */
const LIMIT_BATCH_LINES = 1000;

/**
 * Our built-in grep against building its answer alone: the matching lines' UTF-8 bytes already in
 * memory (batches of lines joined by `\n`, as the workers hand them over), decoded line by line
 * into the match objects the answer is made of. Any engine in this process pays this at least,
 * whatever its search; rg, which streams its output to a pipe, never does. On a machine where
 * fresh memory is slow to map, this is most of what a large answer costs.
 */
async function answerLimitRow(
  ctx: BenchContext,
  backend: LocalBackend,
  needle: string,
  ours: number[],
  label: (what: string) => string,
): Promise<Row> {
  const result = await backend.grep(needle, "/");
  const matches = result.matches ?? [];
  const batches: Array<{ bytes: Buffer; refs: Array<{ path: string; line: number }> }> = [];
  for (let i = 0; i < matches.length; i += LIMIT_BATCH_LINES) {
    const part = matches.slice(i, i + LIMIT_BATCH_LINES);
    batches.push({
      bytes: Buffer.from(part.map((m) => m.text).join("\n"), "utf8"),
      refs: part.map((m) => ({ path: m.path, line: m.line })),
    });
  }
  const megabytes = batches.reduce((sum, b) => sum + b.bytes.length, 0) / 1e6;
  matches.length = 0;
  const build = () => {
    const answer: Array<{ path: string; line: number; text: string }> = [];
    for (const { bytes, refs } of batches) {
      let at = 0;
      for (const ref of refs) {
        const newline = bytes.indexOf(10, at);
        const end = newline === -1 ? bytes.length : newline;
        answer.push({ path: ref.path, line: ref.line, text: bytes.toString("utf8", at, end) });
        at = end + 1;
      }
    }
    return answer.length;
  };
  const lines = batches.reduce((sum, b) => sum + b.refs.length, 0);
  const what = `building its answer alone (${lines.toLocaleString("en-US")} lines, ${megabytes.toFixed(1)} MB, decoded from bytes in memory)`;
  ctx.log(`local: grep \`${needle}\` against ${what}`);
  const limit = await time(ctx.timing, build);
  return compare(
    {
      group: GROUP,
      measure: label(`grep \`${needle}\` (engine builtin) against ${what}`),
      peer: "limit: building the answer alone",
      maxRatio: null,
      note: "The matching lines' UTF-8 bytes, already in memory in batches of 1,000 lines, decoded line by line into match objects: what any search in this process pays for its answer at least (rg streams its output to a pipe and never does). Ours is the row above.",
    },
    { ours, theirs: limit },
  );
}
