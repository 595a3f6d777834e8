/**
 * DockerSandbox file operations against the same operations done through `execute` shell commands,
 * the deepagents BaseSandbox approach: deepagents' own `BaseSandbox` (its read is an `awk` command)
 * around a sandbox whose only primitive is `execute`, with uploads and downloads as base64 through
 * the shell. Both sides use the same image, and the baseline's `execute` is our DockerSandbox's.
 */
import { shellQuote } from "@deepfs/core";
import { DockerSandbox } from "@deepfs/docker";
import { BaseSandbox, type ExecuteResponse, type FileDownloadResponse, type FileUploadResponse } from "deepagents";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, generateCorpus, standardSpec } from "../corpus.js";
import { compare, type Row, timePair, unavailable } from "../measure.js";

const GROUP = "DockerSandbox";
const PEER = "execute() shell commands (deepagents BaseSandbox)";

/** deepagents' BaseSandbox with every file operation done by a shell command in the container. */
class ShellSandbox extends BaseSandbox {
  readonly id: string;

  constructor(private readonly inner: DockerSandbox) {
    super();
    this.id = `shell-${inner.id}`;
  }

  async execute(command: string): Promise<ExecuteResponse> {
    const { output, exitCode, truncated } = await this.inner.execute(command);
    return { output, exitCode, truncated };
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const out: FileUploadResponse[] = [];
    for (const [path, bytes] of files) {
      const dir = path.slice(0, path.lastIndexOf("/")) || "/";
      const b64 = Buffer.from(bytes).toString("base64");
      const result = await this.inner.execute(
        `mkdir -p ${shellQuote(dir)} && printf '%s' '${b64}' | base64 -d > ${shellQuote(path)}`,
      );
      out.push({ path, error: result.exitCode === 0 ? null : "permission_denied" });
    }
    return out;
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const out: FileDownloadResponse[] = [];
    for (const path of paths) {
      const result = await this.inner.execute(`base64 ${shellQuote(path)}`);
      out.push(
        result.exitCode === 0
          ? { path, content: Buffer.from(result.output.replace(/\s+/g, ""), "base64"), error: null }
          : { path, content: null, error: "file_not_found" },
      );
    }
    return out;
  }
}

interface FileOps {
  write(path: string, content: string): Promise<{ error?: string }>;
  read(path: string): Promise<{ error?: string; content?: unknown }>;
}

async function writeThenRead(backend: FileOps, root: string, corpus: CorpusFile[]): Promise<void> {
  for (const f of corpus) {
    const result = await backend.write(`${root}${f.path}`, f.content);
    if (result.error) throw new Error(`write ${root}${f.path}: ${result.error}`);
  }
  for (const f of corpus) {
    const result = await backend.read(`${root}${f.path}`);
    if (result.error || typeof result.content !== "string") throw new Error(`read ${root}${f.path}: ${result.error}`);
  }
}

export const dockerGroup: BenchGroup = {
  name: "docker",
  async run(ctx: BenchContext): Promise<Row[]> {
    const n = ctx.sizes.docker;
    const measure = `write + read ${n} files`;
    const image = ctx.env.DEEPFS_DOCKER_IMAGE_BUSYBOX;
    if (!ctx.env.DOCKER_HOST || !image) {
      return [
        unavailable(GROUP, measure, PEER, "<= 0.33x", ctx.env.DEEPFS_DOCKER_UNAVAILABLE ?? "DOCKER_HOST not set"),
      ];
    }
    const corpus = generateCorpus(standardSpec(ctx.seed, n));
    // The engine the harness started (it may have come up after the environment was exported).
    const host = ctx.env.DOCKER_HOST;
    const docker = host.startsWith("unix://") ? { socketPath: host.slice("unix://".length) } : undefined;
    const options = { runtime: "busybox" as const, image, ...(docker ? { docker } : {}) };
    const ours = new DockerSandbox(options);
    const shellHost = new DockerSandbox(options);
    const theirs = new ShellSandbox(shellHost);
    try {
      await Promise.all([ours.start(), shellHost.start()]);
      let round = 0;
      ctx.log(`docker: ${measure}`);
      // Every run writes into a new directory, so each write creates its file (as in the first run).
      const samples = await timePair(
        ctx.timing,
        { setup: () => `/workspace/r${round++}`, run: (root) => writeThenRead(ours, root, corpus) },
        { setup: () => `/workspace/r${round++}`, run: (root) => writeThenRead(theirs, root, corpus) },
      );
      const rows = [
        compare(
          {
            group: GROUP,
            measure,
            peer: PEER,
            maxRatio: 0.33,
            note: "write() then read() of each file, one call at a time, busybox image, one container each.",
          },
          samples,
        ),
      ];
      ctx.log(`docker: uploadFiles + downloadFiles ${n}`);
      const encoded = (root: string) =>
        corpus.map((f): [string, Uint8Array] => [`${root}${f.path}`, Buffer.from(f.content)]);
      const transfer = async (backend: DockerSandbox | ShellSandbox, root: string) => {
        const files = encoded(root);
        if ((await backend.uploadFiles(files)).some((r) => r.error)) throw new Error("uploadFiles failed");
        const down = await backend.downloadFiles(files.map(([p]) => p));
        if (down.some((r) => r.error || !r.content)) throw new Error("downloadFiles failed");
      };
      rows.push(
        compare(
          {
            group: GROUP,
            measure: `uploadFiles + downloadFiles ${n} files`,
            peer: PEER,
            maxRatio: null,
            note: "One call each for all files; the shell baseline runs one command per file (base64 through the shell).",
          },
          await timePair(
            ctx.timing,
            { setup: () => `/workspace/r${round++}`, run: (root) => transfer(ours, root) },
            { setup: () => `/workspace/r${round++}`, run: (root) => transfer(theirs, root) },
          ),
        ),
      );
      return rows;
    } finally {
      await Promise.allSettled([ours.stop(), shellHost.stop()]);
    }
  },
};
