/**
 * CompositeBackend grep over 4 routes (StateBackend, LocalBackend, PostgresBackend, S3Backend, each
 * holding its own share of the corpus) against the slowest of those routes searched alone: the
 * router must search its members concurrently, so its time is the slowest member's, not the sum.
 * On real code with the shared needle set first, then on the synthetic corpus.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import { type BackendProtocol, CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { S3Backend } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { expectCount, median, type Row } from "../measure.js";
import { countLines, loadRealCorpus, matchCount, REAL_NEEDLES } from "../real-needles.js";
import { pgUrl, s3Config } from "../services.js";

const GROUP = "CompositeBackend";

interface Route {
  mount: string;
  name: string;
  backend: BackendProtocol;
  corpus: CorpusFile[];
  close: () => Promise<void>;
}

async function fill(backend: BackendProtocol, corpus: CorpusFile[]): Promise<void> {
  for (let i = 0; i < corpus.length; i += 500) {
    const results = await backend.uploadFiles(
      corpus.slice(i, i + 500).map((f): [string, Uint8Array] => [f.path, Buffer.from(f.content)]),
    );
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
  }
}

/**
 * The 4 routes, each filled with its own share (`shares[i]` for route i: state, local, pg, s3);
 * a service that is missing is replaced by a StateBackend, said in `notes`.
 */
async function openRoutes(ctx: BenchContext, tag: string, shares: CorpusFile[][], notes: string[]): Promise<Route[]> {
  const routes: Route[] = [];
  const add = async (mount: string, name: string, backend: BackendProtocol, close = async () => {}) => {
    const corpus = shares[routes.length] ?? [];
    // Closed with the others even when filling fails.
    routes.push({ mount, name, backend, corpus, close });
    await fill(backend, corpus);
  };
  try {
    await add("/state", "StateBackend", new StateBackend());
    const local = new LocalBackend({ rootDir: await mkdtemp(path.join(ctx.tmpDir, "composite-")) });
    await add("/local", "LocalBackend", local, () => local.close());
    const url = pgUrl(ctx.env);
    if (typeof url === "string") {
      const pg = new PostgresBackend({ url, namespace: `bench-composite-${tag}`, maxPoolSize: 4 });
      await add("/pg", "PostgresBackend", pg, async () => {
        await pg.delete("/").catch(() => {});
        await pg.close();
      });
    } else {
      notes.push(`PostgresBackend route replaced by a StateBackend (${url.unavailable})`);
      await add("/pg", "StateBackend", new StateBackend());
    }
    const s3 = s3Config(ctx.env, `bench-composite-${tag}`);
    if ("unavailable" in s3) {
      notes.push(`S3Backend route replaced by a StateBackend (${s3.unavailable})`);
      await add("/s3", "StateBackend", new StateBackend());
    } else {
      const backend = new S3Backend(s3);
      await add("/s3", "S3Backend", backend, async () => {
        await backend.delete("/").catch(() => {});
        await backend.close();
      });
    }
  } catch (error) {
    await closeRoutes(routes);
    throw error;
  }
  return routes;
}

async function closeRoutes(routes: Route[]): Promise<void> {
  for (const r of routes) await r.close().catch(() => {});
}

/**
 * Grep of `needle` through the composite against each route alone; each run times the composite and
 * then every route, so all see the same machine load. Every count is checked against the corpus.
 */
async function compositeRow(
  ctx: BenchContext,
  routes: Route[],
  needle: string,
  measure: string,
  notes: string[],
): Promise<Row> {
  const expected = routes.map((r) => countLines(r.corpus, needle));
  const total = expected.reduce((a, b) => a + b, 0);
  const composite = new CompositeBackend({
    default: new StateBackend(),
    routes: Object.fromEntries(routes.map((r) => [`${r.mount}/`, r.backend])),
  });
  const compositeSamples: number[] = [];
  const routeSamples = routes.map(() => [] as number[]);
  const timed = async (fn: () => Promise<void>) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };
  ctx.log(`composite: ${measure}`);
  for (let i = 0; i < ctx.timing.warmup + ctx.timing.runs; i++) {
    const c = await timed(async () =>
      expectCount("composite grep", matchCount(await composite.grep(needle, "/"), "composite grep"), total),
    );
    if (i >= ctx.timing.warmup) compositeSamples.push(c);
    for (const [j, r] of routes.entries()) {
      const t = await timed(async () =>
        expectCount(`${r.name} grep`, matchCount(await r.backend.grep(needle, "/"), r.name), expected[j] ?? 0),
      );
      if (i >= ctx.timing.warmup) routeSamples[j]?.push(t);
    }
  }
  const medians = routeSamples.map(median);
  const slowest = medians.indexOf(medians.reduce((max, m) => Math.max(max, m), Number.NEGATIVE_INFINITY));
  const ours = median(compositeSamples);
  const theirs = medians[slowest] as number;
  const sum = medians.reduce((a, b) => a + b, 0);
  const ratio = ours / theirs;
  const alone =
    `Routes alone: ${routes.map((r, j) => `${r.mount} ${r.name} ${r.corpus.length} files ${(medians[j] as number).toFixed(1)} ms`).join("; ")}; ` +
    `sum ${sum.toFixed(1)} ms (composite / sum = ${(ours / sum).toFixed(2)}x).`;
  return {
    group: GROUP,
    measure,
    ours,
    theirs,
    peer: `slowest route alone (${routes[slowest]?.name})`,
    unit: "ms",
    ratio,
    goal: "<= 1.3x",
    pass: ratio <= 1.3,
    note: [...notes, alone].join(" "),
    samples: { ours: compositeSamples, theirs: routeSamples[slowest] ?? [] },
  };
}

export const compositeGroup: BenchGroup = {
  name: "composite",
  async run(ctx: BenchContext): Promise<Row[]> {
    const share = Math.floor(ctx.sizes.standard / 4);
    // moto serves one request at a time, so the S3 route holds fewer objects to keep the run short.
    const s3Share = Math.floor(ctx.sizes.s3 / 8);
    const suffix = randomBytes(4).toString("hex");
    const sizes = [share, share, share, s3Share];
    const rows: Row[] = [];

    // Real code: the first files in path order, cut into the 4 shares in that order.
    const real = await loadRealCorpus(sizes.reduce((a, b) => a + b, 0));
    const realShares: CorpusFile[][] = [];
    for (let i = 0, at = 0; i < sizes.length; at += sizes[i] ?? 0, i++) {
      realShares.push(real.files.slice(at, at + (sizes[i] ?? 0)));
    }
    const realNotes = [real.note];
    let routes = await openRoutes(ctx, `${suffix}-real`, realShares, realNotes);
    try {
      for (const { kind, needle } of REAL_NEEDLES) {
        const lines = countLines(real.files, needle).toLocaleString("en-US");
        const measure = `grep ${kind} \`${needle}\` (${lines} lines) over 4 routes, ${real.label}`;
        rows.push(await compositeRow(ctx, routes, needle, measure, realNotes));
      }
    } finally {
      await closeRoutes(routes);
    }

    // The synthetic corpus: each route its own generated share.
    const specs = sizes.map((files, i) => standardSpec(ctx.seed + i + 1, files));
    const notes: string[] = [];
    routes = await openRoutes(ctx, suffix, specs.map(generateCorpus), notes);
    try {
      rows.push(await compositeRow(ctx, routes, NEEDLE, "grep needle over 4 routes, synthetic corpus", notes));
    } finally {
      await closeRoutes(routes);
    }
    return rows;
  },
};
