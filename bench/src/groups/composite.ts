/**
 * CompositeBackend grep over 4 routes (StateBackend, LocalBackend, PostgresBackend, S3Backend, each
 * holding its own share of the corpus) against the slowest of those routes searched alone: the
 * router must search its members concurrently, so its time is the slowest member's, not the sum.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import { type BackendProtocol, CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { S3Backend } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, expectedMatches, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { expectCount, median, type Row } from "../measure.js";
import { pgUrl, s3Config } from "../services.js";

const GROUP = "CompositeBackend";

interface Route {
  mount: string;
  name: string;
  backend: BackendProtocol;
  files: number;
  needles: number;
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

export const compositeGroup: BenchGroup = {
  name: "composite",
  async run(ctx: BenchContext): Promise<Row[]> {
    const share = Math.floor(ctx.sizes.standard / 4);
    // moto serves one request at a time, so the S3 route holds fewer objects to keep the run short.
    const s3Share = Math.floor(ctx.sizes.s3 / 8);
    const suffix = randomBytes(4).toString("hex");
    const routes: Route[] = [];
    const notes: string[] = [];
    const add = async (
      mount: string,
      name: string,
      backend: BackendProtocol,
      files: number,
      close = async () => {},
    ) => {
      const spec = standardSpec(ctx.seed + routes.length + 1, files);
      await fill(backend, generateCorpus(spec));
      routes.push({ mount, name, backend, files, needles: expectedMatches(spec).needle, close });
    };
    try {
      await add("/state", "StateBackend", new StateBackend(), share);
      const local = new LocalBackend({ rootDir: await mkdtemp(path.join(ctx.tmpDir, "composite-")) });
      await add("/local", "LocalBackend", local, share, () => local.close());
      const url = pgUrl(ctx.env);
      if (typeof url === "string") {
        const pg = new PostgresBackend({ url, namespace: `bench-composite-${suffix}`, maxPoolSize: 4 });
        await add("/pg", "PostgresBackend", pg, share, async () => {
          await pg.delete("/d00").catch(() => {});
          await pg.close();
        });
      } else {
        notes.push(`PostgresBackend route replaced by a StateBackend (${url.unavailable})`);
        await add("/pg", "StateBackend", new StateBackend(), share);
      }
      const s3 = s3Config(ctx.env, `bench-composite-${suffix}`);
      if ("unavailable" in s3) {
        notes.push(`S3Backend route replaced by a StateBackend (${s3.unavailable})`);
        await add("/s3", "StateBackend", new StateBackend(), share);
      } else {
        const backend = new S3Backend(s3);
        await add("/s3", "S3Backend", backend, s3Share, () => backend.close());
      }
      const composite = new CompositeBackend({
        default: new StateBackend(),
        routes: Object.fromEntries(routes.map((r) => [`${r.mount}/`, r.backend])),
      });
      const total = routes.reduce((sum, r) => sum + r.needles, 0);

      // Each run times the composite and then every route alone, so all see the same machine load.
      const compositeSamples: number[] = [];
      const routeSamples = routes.map(() => [] as number[]);
      const timed = async (fn: () => Promise<void>) => {
        const start = performance.now();
        await fn();
        return performance.now() - start;
      };
      ctx.log(`composite: grep over ${routes.map((r) => `${r.name} (${r.files})`).join(", ")}`);
      for (let i = 0; i < ctx.timing.warmup + ctx.timing.runs; i++) {
        const c = await timed(async () =>
          expectCount("composite grep", (await composite.grep(NEEDLE, "/")).matches?.length ?? 0, total),
        );
        if (i >= ctx.timing.warmup) compositeSamples.push(c);
        for (const [j, r] of routes.entries()) {
          const t = await timed(async () =>
            expectCount(`${r.name} grep`, (await r.backend.grep(NEEDLE, "/")).matches?.length ?? 0, r.needles),
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
      notes.push(
        `Routes alone: ${routes.map((r, j) => `${r.mount} ${r.name} ${r.files} files ${(medians[j] as number).toFixed(1)} ms`).join("; ")}; ` +
          `sum ${sum.toFixed(1)} ms (composite / sum = ${(ours / sum).toFixed(2)}x).`,
      );
      return [
        {
          group: GROUP,
          measure: "grep needle over 4 routes",
          ours,
          theirs,
          peer: `slowest route alone (${routes[slowest]?.name})`,
          unit: "ms",
          ratio,
          goal: "<= 1.3x",
          pass: ratio <= 1.3,
          note: notes.join(" "),
          samples: { ours: compositeSamples, theirs: routeSamples[slowest] ?? [] },
        },
      ];
    } finally {
      for (const r of routes) await r.close().catch(() => {});
    }
  },
};
