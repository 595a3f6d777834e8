/**
 * The cost of the production layers (issue 19): the same workload on the bare backend and through
 * each layer, alone and all four stacked, on StateBackend, LocalBackend and PostgreSQL. Telemetry
 * runs with no tracer provider registered (what a user who has not set one up pays: the goal is
 * within noise of no layer); audit with a sink that keeps nothing (the layer's own cost, not the
 * sink's); permissions with three rules; quotas with limits never reached. Grep also on real code
 * (the shared needle set), all four layers stacked against the bare backend.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { allowingRules, GENEROUS_LIMITS as LIMITS } from "@deepfs/conformance/controls";
import { type BackendProtocol, StateBackend, withAudit, withPermissions, withQuota } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { withTelemetry } from "@deepfs/telemetry";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, expectedMatches, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { compare, expectCount, type Row, timePair, unavailable } from "../measure.js";
import { loadRealCorpus, matchCount, type RealCorpus, realGrepRows } from "../real-needles.js";
import { pgUrl } from "../services.js";

const GROUP = "controls";
const PEER = "the bare backend";

/** Three rules: read, write and delete allowed, after a deny that matches nothing written and a deny of execute. */
const RULES = allowingRules([{ action: "deny", operations: ["execute"], paths: ["**"] }]);

/** Each layer over a backend, and all four. */
const LAYERS: Array<[string, (b: BackendProtocol) => BackendProtocol]> = [
  ["telemetry (no tracer registered)", (b) => withTelemetry(b)],
  ["audit (sink keeps nothing)", (b) => withAudit(b, { onAudit: () => {} })],
  ["permissions (3 rules)", (b) => withPermissions(b, RULES)],
  ["quota", (b) => withQuota(b, LIMITS)],
  [
    "all four stacked",
    (b) => withTelemetry(withAudit(withPermissions(withQuota(b, LIMITS), RULES), { onAudit: () => {} })),
  ],
];

/** A fresh bare backend and how to close it. */
type Open = () => Promise<{ backend: BackendProtocol; close: () => Promise<void> }>;

async function writeAll(backend: BackendProtocol, corpus: CorpusFile[]): Promise<void> {
  for (const f of corpus) {
    const result = await backend.write(f.path, f.content);
    if (result.error) throw new Error(`write ${f.path}: ${result.code}`);
  }
}

async function measureBackend(
  ctx: BenchContext,
  name: string,
  corpus: CorpusFile[],
  needles: number,
  real: RealCorpus,
  open: Open,
): Promise<Row[]> {
  const rows: Row[] = [];
  const n = corpus.length.toLocaleString("en-US");
  for (const [label, layer] of LAYERS) {
    ctx.log(`controls: ${name}, ${label}, write ${n} files`);
    const side = (wrap: (b: BackendProtocol) => BackendProtocol) => ({
      setup: open,
      run: async (opened: Awaited<ReturnType<Open>>) => {
        try {
          await writeAll(wrap(opened.backend), corpus);
        } finally {
          await opened.close();
        }
      },
    });
    const writes = await timePair(
      ctx.timing,
      side(layer),
      side((b) => b),
    );
    rows.push(
      compare({ group: GROUP, measure: `${name}: write ${n} files, ${label}`, peer: PEER, maxRatio: null }, writes),
    );
  }
  // Grep: one populated backend, searched bare and through each layer.
  const opened = await open();
  try {
    await writeAll(opened.backend, corpus);
    const grep = async (backend: BackendProtocol) => {
      const result = await backend.grep(NEEDLE, "/");
      if (result.error) throw new Error(`grep: ${result.code}`);
      expectCount(`${name} grep`, result.matches?.length ?? 0, needles);
    };
    for (const [label, layer] of LAYERS) {
      ctx.log(`controls: ${name}, ${label}, grep`);
      const layered = layer(opened.backend);
      const samples = await timePair(ctx.timing, { run: () => grep(layered) }, { run: () => grep(opened.backend) });
      rows.push(
        compare(
          { group: GROUP, measure: `${name}: grep needle, synthetic corpus, ${label}`, peer: PEER, maxRatio: null },
          samples,
        ),
      );
    }
  } finally {
    await opened.close();
  }
  rows.push(...(await realCodeRows(ctx, name, real, open)));
  return rows;
}

/** Grep over real code, needle by needle, through all four layers stacked against the bare backend. */
async function realCodeRows(ctx: BenchContext, name: string, real: RealCorpus, open: Open): Promise<Row[]> {
  const [label, layer] = LAYERS[LAYERS.length - 1] as (typeof LAYERS)[number];
  const opened = await open();
  try {
    await writeAll(opened.backend, real.files);
    const layered = layer(opened.backend);
    return await realGrepRows(ctx, {
      group: GROUP,
      peer: PEER,
      corpus: real,
      ours: async (needle) => matchCount(await layered.grep(needle, "/"), `${name} grep, ${label}`),
      theirs: async (needle) => matchCount(await opened.backend.grep(needle, "/"), `${name} grep`),
      maxRatio: () => null,
      prefix: `${name}: ${label}, `,
      note: "The cost of the layers on a grep whose answer follows real code's match counts.",
    });
  } finally {
    await opened.close();
  }
}

export const controlsGroup: BenchGroup = {
  name: "controls",
  async run(ctx: BenchContext): Promise<Row[]> {
    const files = ctx.quick ? 100 : 1_000;
    const spec = standardSpec(ctx.seed, files);
    const corpus = generateCorpus(spec);
    const needles = expectedMatches(spec).needle;
    const real = await loadRealCorpus(ctx.quick ? 300 : 2_000);
    const rows: Row[] = [];

    rows.push(
      ...(await measureBackend(ctx, "StateBackend", corpus, needles, real, async () => ({
        backend: new StateBackend(),
        close: async () => {},
      }))),
    );

    rows.push(
      ...(await measureBackend(ctx, "LocalBackend", corpus, needles, real, async () => {
        const root = mkdtempSync(path.join(ctx.tmpDir, "controls-local-"));
        const backend = new LocalBackend({ rootDir: root });
        return {
          backend,
          close: async () => {
            await backend.close();
            rmSync(root, { recursive: true, force: true });
          },
        };
      })),
    );

    const url = pgUrl(ctx.env);
    if (typeof url !== "string") {
      rows.push(unavailable(GROUP, "PostgresBackend", PEER, "", url.unavailable));
    } else {
      const table = `bench_controls_${randomBytes(4).toString("hex")}`;
      rows.push(
        ...(await measureBackend(ctx, "PostgresBackend", corpus, needles, real, async () => {
          const backend = new PostgresBackend({ url, table, namespace: `run-${randomBytes(4).toString("hex")}` });
          await backend.initialize();
          return {
            backend,
            close: async () => {
              await backend.delete("/");
              await backend.close();
            },
          };
        })),
      );
    }
    return rows;
  },
};
