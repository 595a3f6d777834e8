/**
 * LocalBackend against deepagents' FilesystemBackend (virtual mode) on the same kind of tree, and
 * LocalBackend's grep against `rg` run directly on that tree; then the real-tree rows
 * (`local-real.ts`: the repository's node_modules/.pnpm against `rg` and fast-glob).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { LocalBackend } from "@deepfs/local";
import { FilesystemBackend } from "deepagents";
import type { BenchContext, BenchGroup } from "../context.js";
import {
  type CorpusFile,
  corpusDirectories,
  expectedMatches,
  generateCorpus,
  NEEDLE,
  standardSpec,
} from "../corpus.js";
import { writeTree } from "../fs-corpus.js";
import { compare, expectCount, type Row, timePair, unavailable } from "../measure.js";
import { loadRealCorpus, matchCount, realGrepRows } from "../real-needles.js";
import { realTreeRows } from "./local-real.js";

const GROUP = "LocalBackend";
const PEER = "deepagents FilesystemBackend";
const run = promisify(execFile);

/** What both backends have in common here. */
interface FileApi {
  write(path: string, content: string): Promise<{ error?: string }> | { error?: string };
  read(path: string): Promise<{ error?: string }> | { error?: string };
  ls(path: string): Promise<{ files?: unknown[] }> | { files?: unknown[] };
  glob(pattern: string, path?: string): Promise<{ files?: unknown[] }> | { files?: unknown[] };
  grep(pattern: string, path?: string | null): Promise<{ matches?: unknown[] }> | { matches?: unknown[] };
  uploadFiles(files: Array<[string, Uint8Array]>): Promise<Array<{ error: unknown }>> | Array<{ error: unknown }>;
}

async function writeAll(backend: FileApi, corpus: CorpusFile[]): Promise<void> {
  for (const f of corpus) {
    const result = await backend.write(f.path, f.content);
    if (result.error) throw new Error(`write ${f.path}: ${result.error}`);
  }
}

/** `rg` as a user would run it for a literal search: fixed strings, line numbers, file names. */
async function ripgrep(root: string): Promise<number> {
  const { stdout } = await run(
    "rg",
    ["--fixed-strings", "--line-number", "--no-heading", "--with-filename", NEEDLE, root],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout.split("\n").filter(Boolean).length;
}

/**
 * Grep over real code written to a tree of its own (all of it; the first 1,000 files with
 * `--quick`), needle by needle, ours against the peer on that tree. Informational, as the synthetic
 * row against the peer; the rows against `rg` on the real tree come from `local-real.ts`.
 */
async function realCodeRows(ctx: BenchContext, dir: string): Promise<Row[]> {
  const corpus = await loadRealCorpus(ctx.quick ? 1_000 : Number.POSITIVE_INFINITY, { skipHidden: true });
  ctx.log(`local: writing ${corpus.label} to disk`);
  await writeTree(dir, corpus.files);
  const ours = new LocalBackend({ rootDir: dir });
  const peer = new FilesystemBackend({ rootDir: dir, virtualMode: true });
  try {
    return await realGrepRows(ctx, {
      group: GROUP,
      peer: PEER,
      corpus,
      ours: async (needle) => matchCount(await ours.grep(needle, "/"), "ours grep"),
      theirs: async (needle) => matchCount(await peer.grep(needle, "/"), "peer grep"),
      maxRatio: () => null,
      note: "Written to a directory of its own; both search that tree.",
    });
  } finally {
    await ours.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const localGroup: BenchGroup = {
  name: "local",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.standard);
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const { top } = corpusDirectories(spec);
    const lsDirs = ["/", ...top];
    const n = corpus.length.toLocaleString("en-US");
    const base = await mkdtemp(path.join(ctx.tmpDir, "local-"));
    const rows: Row[] = [];
    const row = (
      measure: string,
      maxRatio: number | null,
      samples: { ours: number[]; theirs: number[] },
      peer = PEER,
    ) => rows.push(compare({ group: GROUP, measure, peer, maxRatio }, samples));
    let dirs = 0;
    // Every run writes into a new directory, and the trees are removed only after both write
    // measures: removing thousands of files right before a timed run slows the next run's file
    // creation (ext4 skips recently freed inodes), which would measure the disk's churn, not us.
    const written: string[] = [];
    const freshDir = () => {
      const dir = path.join(base, `w${dirs++}`);
      written.push(dir);
      return dir;
    };

    ctx.log(`local: write all ${n}`);
    row(
      `write all ${n} files (write() each)`,
      0.2,
      await timePair(
        ctx.timing,
        { setup: freshDir, run: (dir) => writeAll(new LocalBackend({ rootDir: dir }), corpus) },
        {
          setup: freshDir,
          run: (dir) => writeAll(new FilesystemBackend({ rootDir: dir, virtualMode: true }), corpus),
        },
      ),
    );

    ctx.log(`local: uploadFiles ${n}`);
    const encoded: Array<[string, Uint8Array]> = corpus.map((f) => [f.path, Buffer.from(f.content)]);
    const upload = async (backend: FileApi) => {
      const results = await backend.uploadFiles(encoded);
      if (results.some((r) => r.error)) throw new Error("uploadFiles failed");
    };
    row(
      `write all ${n} files (one uploadFiles call)`,
      null,
      await timePair(
        ctx.timing,
        { setup: freshDir, run: (dir) => upload(new LocalBackend({ rootDir: dir })) },
        {
          setup: freshDir,
          run: (dir) => upload(new FilesystemBackend({ rootDir: dir, virtualMode: true })),
        },
      ),
    );

    for (const dir of written.splice(0)) await rm(dir, { recursive: true, force: true });

    // One tree, read by both (the peer's write above produced the same files).
    const treeDir = path.join(base, "tree");
    await writeTree(treeDir, corpus);
    const ours: FileApi = new LocalBackend({ rootDir: treeDir });
    const peer: FileApi = new FilesystemBackend({ rootDir: treeDir, virtualMode: true });
    const both = (fn: (backend: FileApi) => Promise<void>) =>
      timePair(ctx.timing, { run: () => fn(ours) }, { run: () => fn(peer) });

    ctx.log(`local: read all ${n}`);
    row(
      `read all ${n} files`,
      null,
      await both(async (b) => {
        for (const f of corpus) if ((await b.read(f.path)).error) throw new Error(`read ${f.path}`);
      }),
    );
    ctx.log("local: ls");
    row(
      `ls / and the ${top.length} top-level dirs`,
      null,
      await both(async (b) => {
        for (const d of lsDirs) if (!(await b.ls(d)).files?.length) throw new Error(`ls ${d}`);
      }),
    );
    ctx.log("local: glob");
    const tsCount = corpus.filter((f) => f.path.endsWith(".ts")).length;
    row(
      "glob **/*.ts",
      null,
      await both(async (b) => expectCount("glob", (await b.glob("**/*.ts", "/")).files?.length ?? 0, tsCount)),
    );
    rows.push(...(await realCodeRows(ctx, path.join(base, "real"))));
    ctx.log("local: grep, synthetic corpus");
    const synthetic = `grep needle, synthetic corpus, ${n} files`;
    row(
      synthetic,
      null,
      await both(async (b) => expectCount("grep", (await b.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle)),
    );

    try {
      await run("rg", ["--version"]);
      row(
        synthetic,
        1.5,
        await timePair(
          ctx.timing,
          {
            run: async () =>
              expectCount("ours grep", (await ours.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
          },
          { run: async () => expectCount("rg", await ripgrep(treeDir), expected.needle) },
        ),
        "`rg -F -n` (process spawn included)",
      );
    } catch (error) {
      rows.push(unavailable(GROUP, synthetic, "`rg -F -n`", "<= 1.5x", `rg: ${(error as Error).message}`));
    }
    await rm(base, { recursive: true, force: true });
    rows.push(...(await realTreeRows(ctx)));
    return rows;
  },
};
