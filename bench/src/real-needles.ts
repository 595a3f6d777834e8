/**
 * The default grep measure of every group (issue 24): real code (the repository's installed
 * dependencies, `real-corpus.ts`) and one needle set, each needle timed against the group's peer
 * with both answers checked against the count the corpus itself gives. The synthetic corpus stays
 * as each group's second set of grep rows.
 */
import { splitLines } from "@deepfs/core";
import type { BenchContext } from "./context.js";
import type { CorpusFile } from "./corpus.js";
import { compare, expectCount, type Row, timePair } from "./measure.js";
import { realCodeCorpus } from "./real-corpus.js";

/** A literal that occurs nowhere in the dependencies. */
export const NO_MATCH = "zz_no_such_text_zz";

export interface RealNeedle {
  kind: string;
  needle: string;
}

/** A rare identifier, common keywords, a 2-character needle and an absent one. */
export const REAL_NEEDLES: readonly RealNeedle[] = [
  { kind: "rare identifier", needle: "ContinuationToken" },
  { kind: "common keyword", needle: "return" },
  { kind: "common keyword", needle: "import" },
  { kind: "2-character needle", needle: "0x" },
  { kind: "absent needle", needle: NO_MATCH },
];

/** Lines of `files` that contain `pattern` (lines as every backend splits them): the expected count. */
export function countLines(files: readonly CorpusFile[], pattern: string): number {
  let count = 0;
  for (const f of files) for (const line of splitLines(f.content)) if (line.includes(pattern)) count++;
  return count;
}

/**
 * Files of the real-code corpus that `--quick` uses (the first in path order) where loading is
 * cheap: enough to hold the rare identifier (its first file is about the 1,520th).
 */
export const QUICK_REAL_FILES = 2_000;

/** A loaded real-code corpus and how rows name it. */
export interface RealCorpus {
  files: CorpusFile[];
  /** Raw bytes of the files, in MB. */
  megabytes: number;
  /** For measures: "real code, 15,812 files" or "real code, first 500 files". */
  label: string;
  /** For notes: what the corpus is. */
  note: string;
}

/**
 * The real-code corpus, whole or its first `limit` files in path order (a deterministic subset for
 * stores that are slow to load and for `--quick`). `skipHidden` leaves out the files below a
 * directory whose name starts with a dot (a few bundled `node_modules/.pnpm`), which deepagents'
 * FilesystemBackend never searches, so that both sides of a disk grep search the same files.
 */
export async function loadRealCorpus(
  limit = Number.POSITIVE_INFINITY,
  options: { skipHidden?: boolean } = {},
): Promise<RealCorpus> {
  const all = await realCodeCorpus(undefined, limit);
  const subset = all.length === limit;
  const hidden = (f: CorpusFile) => f.path.split("/").some((segment) => segment.startsWith("."));
  const files = options.skipHidden ? all.filter((f) => !hidden(f)) : all;
  const n = files.length.toLocaleString("en-US");
  const megabytes = files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0) / 1e6;
  const skipped = all.length - files.length;
  return {
    files,
    megabytes,
    label: `real code, ${subset ? "first " : ""}${n} files`,
    note:
      `Real code: ${subset ? `the first ${n} (in path order)` : n} .js/.mjs/.cjs/.ts files ` +
      `(${megabytes.toFixed(1)} MB) of node_modules/.pnpm` +
      (skipped > 0 ? ` (${skipped} files below hidden directories left out: the peer never searches them).` : "."),
  };
}

/** One real-code grep row: ours against the peer on one needle, both counts checked on every run. */
export interface RealGrepOptions {
  group: string;
  peer: string;
  corpus: RealCorpus;
  /** Lines ours finds for a needle. */
  ours: (needle: string) => Promise<number>;
  /** Lines the peer finds for a needle. */
  theirs: (needle: string) => Promise<number>;
  /** The goal (ours / peer) for a needle; null: an informational row. */
  maxRatio: (needle: RealNeedle) => number | null;
  /** Put before "grep" in the measure (e.g. the layer measured). */
  prefix?: string;
  /** Appended to the corpus note. */
  note?: string;
}

export async function realGrepRow(ctx: BenchContext, o: RealGrepOptions, needle: RealNeedle): Promise<Row> {
  const expected = countLines(o.corpus.files, needle.needle);
  const lines = expected.toLocaleString("en-US");
  const measure = `${o.prefix ?? ""}grep ${needle.kind} \`${needle.needle}\` (${lines} lines), ${o.corpus.label}`;
  ctx.log(`${o.group}: ${measure}`);
  return compare(
    {
      group: o.group,
      measure,
      peer: o.peer,
      maxRatio: o.maxRatio(needle),
      note: o.note ? `${o.corpus.note} ${o.note}` : o.corpus.note,
    },
    await timePair(
      ctx.timing,
      { run: async () => expectCount("ours grep", await o.ours(needle.needle), expected) },
      { run: async () => expectCount(`${o.peer} grep`, await o.theirs(needle.needle), expected) },
    ),
  );
}

/** {@link realGrepRow} for every needle of {@link REAL_NEEDLES}. */
export async function realGrepRows(ctx: BenchContext, o: RealGrepOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const needle of REAL_NEEDLES) rows.push(await realGrepRow(ctx, o, needle));
  return rows;
}

/** Lines a grep result holds; a grep that fails throws (an error is no answer). */
export function matchCount(result: { error?: string; matches?: unknown[] | null }, what: string): number {
  if (result.error) throw new Error(`${what}: ${result.error}`);
  return result.matches?.length ?? 0;
}
