/**
 * Peak memory of S3Backend listings over 10,000 and 100,000 keys, each run in a fresh child process
 * against a synthetic ListObjectsV2 server (see `synthetic-listing.ts`): `glob` streams the pages
 * and keeps only the matches, so its peak must stay flat as the bucket grows.
 */
import { fileURLToPath } from "node:url";
import type { BenchContext } from "../context.js";
import type { Row } from "../measure.js";
import { type ProbeResult, runProbe } from "../process-tree-rss.js";
import { startSyntheticListing, syntheticMarkdownCount } from "../synthetic-listing.js";

const GROUP = "S3Backend";
const PROBE = fileURLToPath(new URL("../s3-listing-probe.js", import.meta.url));
const fmt = (n: number) => n.toLocaleString("en-US");

/** Highest peak over a few runs; every run must return `expected` entries. */
async function peak(kind: string, url: string, runs: number, expected: number): Promise<ProbeResult> {
  let worst: ProbeResult | undefined;
  for (let i = 0; i < runs; i++) {
    const result = await runProbe(PROBE, [kind, url]);
    if (result.matches !== expected) throw new Error(`probe ${kind}: ${result.matches} entries, expected ${expected}`);
    if (!worst || result.nodeMaxRssMb > worst.nodeMaxRssMb) worst = result;
  }
  return worst as ProbeResult;
}

function rssRow(measure: string, peer: string, ours: ProbeResult, theirs: ProbeResult, note: string): Row {
  return {
    group: GROUP,
    measure,
    ours: ours.nodeMaxRssMb,
    theirs: theirs.nodeMaxRssMb,
    peer,
    unit: "MB",
    ratio: ours.nodeMaxRssMb / theirs.nodeMaxRssMb,
    goal: "",
    pass: null,
    note: `${note} Peak RSS (getrusage maxrss) of a fresh Node process, highest of the runs; ours ${ours.ms.toFixed(0)} ms, peer ${theirs.ms.toFixed(0)} ms.`,
  };
}

export async function listingRows(ctx: BenchContext): Promise<Row[]> {
  const runs = Math.min(3, ctx.timing.runs);
  const globs = new Map<number, ProbeResult>();
  const rows: Row[] = [];
  let idle: ProbeResult | undefined;
  for (const count of ctx.sizes.s3Keys) {
    const server = await startSyntheticListing(count);
    try {
      ctx.log(`s3: listing memory over ${fmt(count)} synthetic keys`);
      idle ??= await peak("idle", server.url, runs, 0);
      const glob = await peak("glob", server.url, runs, syntheticMarkdownCount(count));
      const collect = await peak("collect", server.url, runs, syntheticMarkdownCount(count));
      const ls = await peak("ls", server.url, runs, 100);
      globs.set(count, glob);
      const what =
        `A synthetic ListObjectsV2 server on loopback stands in for a bucket of ${fmt(count)} objects ` +
        `(moto stores one PUT at a time: 100,000 would take many minutes); the real SDK and S3Backend list it ` +
        `page by page. An idle process of the same kind peaks at ${idle.nodeMaxRssMb.toFixed(0)} MB.`;
      rows.push(
        rssRow(
          `glob **/*.md over ${fmt(count)} keys (1% match), peak RSS`,
          "every key listed into an array, then filtered",
          glob,
          collect,
          what,
        ),
        rssRow(`ls / over ${fmt(count)} keys (100 directories), peak RSS`, "idle process", ls, idle, what),
      );
    } finally {
      await server.close();
    }
  }
  const [small, large] = [...globs.keys()].sort((a, b) => a - b);
  const smallPeak = small === undefined ? undefined : globs.get(small);
  const largePeak = large === undefined ? undefined : globs.get(large);
  if (smallPeak && largePeak && small !== large) {
    const flat = largePeak.nodeMaxRssMb / smallPeak.nodeMaxRssMb;
    rows.push({
      group: GROUP,
      measure: `glob **/*.md, peak RSS at ${fmt(large as number)} keys against ${fmt(small as number)}`,
      ours: largePeak.nodeMaxRssMb,
      theirs: smallPeak.nodeMaxRssMb,
      peer: `the same glob over ${fmt(small as number)} keys`,
      unit: "MB",
      ratio: flat,
      goal: "<= 1.2x",
      pass: flat <= 1.2,
      note: "Flat memory: ten times the keys, about the same peak (only the matches are kept).",
    });
  }
  return rows;
}
