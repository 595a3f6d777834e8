/**
 * StateBackend (in memory) against deepagents' StateBackend in its legacy form: files live in a
 * plain object and every `filesUpdate` is applied to it in place, as the caller of a legacy backend does.
 */
import { StateBackend } from "@deepfs/core";
import { StateBackend as PeerStateBackend } from "deepagents";
import type { BenchContext, BenchGroup } from "../context.js";
import {
  type CorpusFile,
  corpusDirectories,
  expectedMatches,
  generateCorpus,
  NEEDLE,
  standardSpec,
} from "../corpus.js";
import { compare, expectCount, type Row, timePair } from "../measure.js";
import { loadRealCorpus, matchCount, QUICK_REAL_FILES, realGrepRows } from "../real-needles.js";

const GROUP = "StateBackend";
const PEER = "deepagents StateBackend";

type PeerFiles = Record<string, unknown>;

function peerBackend(files: PeerFiles): PeerStateBackend {
  // The legacy constructor: a runtime with `state.files`, updates returned as `filesUpdate`.
  return new PeerStateBackend({ state: { files } } as unknown as ConstructorParameters<typeof PeerStateBackend>[0]);
}

async function peerWriteAll(corpus: CorpusFile[]): Promise<PeerFiles> {
  const files: PeerFiles = {};
  const backend = peerBackend(files);
  for (const f of corpus) {
    const result = await backend.write(f.path, f.content);
    if (result.error) throw new Error(result.error);
    Object.assign(files, result.filesUpdate);
  }
  return files;
}

async function oursWriteAll(corpus: CorpusFile[]): Promise<StateBackend> {
  const backend = new StateBackend();
  for (const f of corpus) {
    const result = await backend.write(f.path, f.content);
    if (result.error) throw new Error(result.error);
  }
  return backend;
}

/**
 * Grep over real code (all of it; the first 2,000 files with `--quick`), needle by needle, both
 * backends holding the same files. Same goal as the synthetic grep row.
 */
async function realCodeRows(ctx: BenchContext): Promise<Row[]> {
  const corpus = await loadRealCorpus(ctx.quick ? QUICK_REAL_FILES : Number.POSITIVE_INFINITY);
  ctx.log(`state: writing ${corpus.label} into both`);
  const ours = await oursWriteAll(corpus.files);
  const peer = peerBackend(await peerWriteAll(corpus.files));
  return realGrepRows(ctx, {
    group: GROUP,
    peer: PEER,
    corpus,
    ours: async (needle) => matchCount(await ours.grep(needle, "/"), "ours grep"),
    theirs: async (needle) => matchCount(await peer.grep(needle, "/"), "peer grep"),
    maxRatio: () => 1.0,
  });
}

function uniqueLine(content: string): string {
  const line = content.split("\n").find((l) => l.length > 8 && content.indexOf(l) === content.lastIndexOf(l));
  if (line === undefined) throw new Error("corpus file without a unique line");
  return line;
}

export const stateGroup: BenchGroup = {
  name: "state",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.standard);
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const { top } = corpusDirectories(spec);
    const lsDirs = ["/", ...top];
    const n = corpus.length.toLocaleString("en-US");
    const rows: Row[] = [];
    const row = (measure: string, samples: { ours: number[]; theirs: number[] }) =>
      rows.push(compare({ group: GROUP, measure, peer: PEER, maxRatio: 1.0 }, samples));

    ctx.log(`state: write all ${n}`);
    row(
      `write all ${n} files`,
      await timePair(ctx.timing, { run: () => oursWriteAll(corpus) }, { run: () => peerWriteAll(corpus) }),
    );

    const ours = await oursWriteAll(corpus);
    const peer = peerBackend(await peerWriteAll(corpus));

    ctx.log(`state: read all ${n}`);
    row(
      `read all ${n} files`,
      await timePair(
        ctx.timing,
        {
          run: async () => {
            for (const f of corpus) if ((await ours.read(f.path)).error) throw new Error(`read ${f.path}`);
          },
        },
        {
          run: async () => {
            for (const f of corpus) if ((await peer.read(f.path)).error) throw new Error(`read ${f.path}`);
          },
        },
      ),
    );

    ctx.log("state: ls");
    row(
      `ls / and the ${top.length} top-level dirs`,
      await timePair(
        ctx.timing,
        {
          run: async () => {
            for (const d of lsDirs) if (!(await ours.ls(d)).files?.length) throw new Error(`ls ${d}`);
          },
        },
        {
          run: async () => {
            for (const d of lsDirs) if (!(await peer.ls(d)).files?.length) throw new Error(`ls ${d}`);
          },
        },
      ),
    );

    ctx.log("state: glob");
    const tsCount = corpus.filter((f) => f.path.endsWith(".ts")).length;
    row(
      "glob **/*.ts",
      await timePair(
        ctx.timing,
        { run: async () => expectCount("ours glob", (await ours.glob("**/*.ts", "/")).files?.length ?? 0, tsCount) },
        { run: async () => expectCount("peer glob", (await peer.glob("**/*.ts", "/")).files?.length ?? 0, tsCount) },
      ),
    );

    rows.push(...(await realCodeRows(ctx)));
    ctx.log("state: grep, synthetic corpus");
    row(
      `grep needle, synthetic corpus, ${n} files`,
      await timePair(
        ctx.timing,
        {
          run: async () =>
            expectCount("ours grep", (await ours.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
        },
        {
          run: async () =>
            expectCount("peer grep", (await peer.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
        },
      ),
    );

    ctx.log("state: edit");
    // Each edit replaces a line that occurs once in its file, so no edit fails as ambiguous.
    const targets = corpus.filter((_, i) => i % 10 === 0).map((f) => ({ ...f, line: uniqueLine(f.content) }));
    row(
      `edit ${targets.length} files (one line each)`,
      await timePair(
        ctx.timing,
        {
          setup: () => oursWriteAll(targets),
          run: async (backend) => {
            for (const f of targets) {
              const result = await backend.edit(f.path, f.line, `${f.line} `);
              if (result.error) throw new Error(`edit ${f.path}: ${result.error}`);
            }
          },
        },
        {
          setup: () => peerWriteAll(targets),
          run: async (files) => {
            const backend = peerBackend(files);
            for (const f of targets) {
              const result = await backend.edit(f.path, f.line, `${f.line} `);
              if (result.error) throw new Error(`edit ${f.path}: ${result.error}`);
              Object.assign(files, result.filesUpdate);
            }
          },
        },
      ),
    );
    return rows;
  },
};
