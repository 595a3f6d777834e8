import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineFileToolsContract, type FileToolsAdapterOptions } from "@deepfs/conformance/file-tools";
import { type BackendProtocol, StateBackend } from "@deepfs/core";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { type ScriptedCall, scriptedModel } from "@deepfs/harness/ai-sdk-model";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { generateText, stepCountIs } from "ai";
import { afterAll } from "vitest";
import { createFileTools } from "../src/index.js";

/** Runs `generateText` with a scripted model making `steps`; answers the tool results it saw, in call order. */
async function drive(backend: BackendProtocol, steps: ScriptedCall[][], options: FileToolsAdapterOptions = {}) {
  const { model, seen, resultsInOrder, maxSteps } = scriptedModel(steps);
  const result = await generateText({
    model,
    tools: createFileTools(backend, options),
    stopWhen: stepCountIs(maxSteps),
    prompt: "Work on the files.",
  });
  return { text: result.text, results: resultsInOrder(), toolNames: seen.toolNames };
}

const pgSkip = requireOrSkipReason("postgres");
const pgStatus = serviceStatus("postgres");
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

defineFileToolsContract({
  name: "AI SDK tools",
  drive,
  create: (backend, options) => createFileTools(backend, options),
  backends: [
    { name: "StateBackend", make: () => new StateBackend() },
    {
      name: "LocalBackend",
      make: () => {
        const dir = mkdtempSync(join(tmpdir(), "deepfs-ai-sdk-"));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        return new LocalBackend({ rootDir: dir });
      },
    },
    {
      name: "PostgresBackend",
      skip: pgSkip,
      make: () => {
        const url = pgStatus.available ? (pgStatus.env.DEEPFS_PG_URL ?? "") : "";
        const backend = new PostgresBackend({ url, maxPoolSize: 2, namespace: `ai_sdk_${Date.now().toString(36)}` });
        cleanups.push(() => backend.close());
        return backend;
      },
    },
  ],
});
