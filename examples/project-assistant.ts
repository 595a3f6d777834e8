/**
 * The "project assistant" layout: one agent, five stores, each used for what it is good at.
 *
 * | path           | backend           | why                                              |
 * |----------------|-------------------|--------------------------------------------------|
 * | `/` (default)  | `DockerSandbox`   | code runs isolated; being the default, it makes `execute` available |
 * | `/project/`    | `LocalBackend`    | the project's files, on disk where the developer sees them |
 * | `/scratch/`    | `MemoryBackend`   | throwaway notes, in this process's memory         |
 * | `/memories/`   | `PostgresBackend` | long-term memory, shared across sessions and machines |
 * | `/assets/`     | `S3Backend`       | large files in a bucket                          |
 *
 * `execute` runs in the container and sees only the container's files: the agent moves data
 * between stores with its file tools (here, it greps the asset in S3 and writes a script into the
 * sandbox).
 *
 * Run (from `examples/`) with DEEPFS_PG_URL, the DEEPFS_S3_* variables and a Docker engine
 * (DOCKER_HOST, DEEPFS_DOCKER_IMAGE_BUSYBOX): `pnpm exec tsx project-assistant.ts`.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { CompositeBackend, MemoryBackend } from "@deepfs/core";
import { DockerSandbox } from "@deepfs/docker";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { S3Backend } from "@deepfs/s3";
import { HumanMessage } from "@langchain/core/messages";
import { createDeepAgent } from "deepagents";
import { requireEnv, runIfMain } from "./lib/run-main.js";
import { lastToolResult, scriptedModel, textOf, toolCallsOf } from "./lib/scripted-model.js";

const SALES_CSV = ["date,amount", "2024-02-27,80", "2024-03-01,100", "2024-03-15,250", "2024-04-02,40", ""].join("\n");

export async function main() {
  const run = randomUUID().slice(0, 8);
  const projectDir = mkdtempSync(join(tmpdir(), "deepfs-project-"));
  const image = process.env.DEEPFS_DOCKER_IMAGE_BUSYBOX;
  const sandbox = new DockerSandbox(image ? { runtime: "busybox", image } : { runtime: "python-minimal" });
  const project = new LocalBackend({ rootDir: projectDir });
  const memories = new PostgresBackend({ url: requireEnv("DEEPFS_PG_URL"), namespace: `assistant-${run}` });
  const assets = new S3Backend({
    bucket: requireEnv("DEEPFS_S3_BUCKET"),
    endpointUrl: requireEnv("DEEPFS_S3_ENDPOINT"),
    region: process.env.DEEPFS_S3_REGION ?? "us-east-1",
    accessKeyId: requireEnv("DEEPFS_S3_ACCESS_KEY_ID"),
    secretAccessKey: requireEnv("DEEPFS_S3_SECRET_ACCESS_KEY"),
    prefix: `assistant/${run}/`,
  });
  try {
    const backend = new CompositeBackend(sandbox, {
      "/project/": project,
      "/scratch/": new MemoryBackend(),
      "/memories/": memories,
      "/assets/": assets,
    });
    // The application puts the asset in place; the agent finds it under /assets/.
    await backend.uploadFiles([["/assets/sales.csv", new TextEncoder().encode(SALES_CSV)]]);

    const model = scriptedModel(
      [
        { name: "ls", args: { path: "/assets/" } },
        { name: "grep", args: { pattern: "2024-03", path: "/assets/" } },
        (messages) => {
          // Turn the matching rows into a script for the sandbox.
          const grepped = lastToolResult(messages);
          const found = grepped ? textOf(grepped) : "";
          const amounts = [...found.matchAll(/2024-03-\d\d,(\d+)/g)].map((m) => m[1]);
          return {
            name: "write_file",
            args: { file_path: "/workspace/total.sh", content: `echo $((${amounts.join(" + ") || 0}))\n` },
          };
        },
        { name: "execute", args: { command: "sh /workspace/total.sh" } },
        (messages) => {
          const executed = lastToolResult(messages);
          const total = ((executed ? textOf(executed) : "").match(/\d+/) ?? ["?"])[0];
          return {
            name: "write_file",
            args: { file_path: "/project/REPORT.md", content: `# March\ntotal: ${total}\n` },
          };
        },
        { name: "write_file", args: { file_path: "/scratch/todo.md", content: "- [x] March total\n- [ ] April\n" } },
        {
          name: "write_file",
          args: { file_path: "/memories/preferences.md", content: "- reports: one total per month\n" },
        },
      ],
      "March total written to /project/REPORT.md.",
    );
    const agent = createDeepAgent({ model, backend });
    const state = await agent.invoke(
      { messages: [new HumanMessage("Sum March's sales from /assets/sales.csv into /project/REPORT.md.")] },
      { recursionLimit: 40 },
    );

    // Where everything landed, checked in each store's own terms.
    const memoryRow = await memories.readRaw("/preferences.md");
    const assetObject = await assets.client.send(
      new HeadObjectCommand({ Bucket: assets.bucket, Key: `${assets.prefix}sales.csv` }),
    );
    const inContainer = await sandbox.execute("cat /workspace/total.sh");
    return {
      tools: toolCallsOf(state.messages).map((c) => ({ name: c.name, result: c.result.trim().split("\n")[0] })),
      executeSupported: backend.capabilities.execute,
      landed: {
        report: { disk: join(projectDir, "REPORT.md"), content: readFileSync(join(projectDir, "REPORT.md"), "utf8") },
        memory: { namespace: memories.namespace, path: "/preferences.md", stored: memoryRow.etag !== undefined },
        asset: { bucket: assets.bucket, key: `${assets.prefix}sales.csv`, size: assetObject.ContentLength },
        script: { container: sandbox.id, content: inContainer.output.trim() },
        scratch: (await backend.read("/scratch/todo.md")).content,
      },
    };
  } finally {
    await memories.delete("/");
    await assets.delete("/");
    await Promise.allSettled([sandbox.close(), project.close(), memories.close(), assets.close()]);
    rmSync(projectDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
