import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineFileToolsContract, type FileToolsAdapterOptions } from "@deepfs/conformance/file-tools";
import { type BackendProtocol, StateBackend } from "@deepfs/core";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { Agent, run, setTracingDisabled } from "@openai/agents";
import { afterAll, describe, expect, it } from "vitest";
import { createFileTools } from "../src/index.js";
import { type ScriptedCall, scriptedModel } from "./scripted-model.js";

setTracingDisabled(true);

/** Runs `run(agent, ...)` with a scripted model making `steps`; answers the tool outputs it saw, in call order. */
async function drive(backend: BackendProtocol, steps: ScriptedCall[][], options: FileToolsAdapterOptions = {}) {
  const { model, seen } = scriptedModel(steps);
  const agent = new Agent({
    name: "files",
    instructions: "Work on the files.",
    model,
    tools: createFileTools(backend, options),
  });
  const result = await run(agent, "Work on the files.", { maxTurns: steps.length + 1 });
  const results = steps.flatMap((calls, s) => calls.map((_, i) => seen.results.get(`call-${s}-${i}`)));
  return { text: result.finalOutput, results, seen, toolNames: seen.tools.map((tools) => tools.map((t) => t.name)) };
}

const pgSkip = requireOrSkipReason("postgres");
const pgStatus = serviceStatus("postgres");
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const backends: Array<{ name: string; skip?: string | undefined; make: () => BackendProtocol }> = [
  { name: "StateBackend", make: () => new StateBackend() },
  {
    name: "LocalBackend",
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), "deepfs-openai-agents-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return new LocalBackend({ rootDir: dir });
    },
  },
  {
    name: "PostgresBackend",
    skip: pgSkip,
    make: () => {
      const url = pgStatus.available ? (pgStatus.env.DEEPFS_PG_URL ?? "") : "";
      const backend = new PostgresBackend({
        url,
        maxPoolSize: 2,
        namespace: `openai_agents_${Date.now().toString(36)}`,
      });
      cleanups.push(() => backend.close());
      return backend;
    },
  },
];

defineFileToolsContract({
  name: "OpenAI Agents tools",
  drive,
  create: (backend, options) => createFileTools(backend, options),
  backends,
});

for (const { name, skip, make } of backends) {
  describe.skipIf(skip !== undefined)(`OpenAI Agents tools over ${name}: strict function tools`, () => {
    it("offers strict tools whose optional arguments the model may send as null", async () => {
      const { results, seen } = await drive(make(), [
        [{ toolName: "write_file", input: { file_path: "/s.md", content: "one\ntwo\nthree\n" } }],
        [{ toolName: "read_file", input: { file_path: "/s.md", offset: 1, limit: null } }],
        [{ toolName: "grep", input: { pattern: "two", path: null, glob: null, max_count: null, output_mode: null } }],
      ]);
      const read = seen.tools[0]?.find((t) => t.name === "read_file");
      expect(read?.strict).toBe(true);
      expect(read?.parameters).toMatchObject({
        required: ["file_path", "offset", "limit"],
        additionalProperties: false,
      });
      expect(results).toEqual([
        "Successfully wrote to '/s.md'",
        "@@ lines 2-3 of 3 @@\ntwo\nthree",
        "/s.md:\n  2: two",
      ]);
    });
  });
}
