import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BackendProtocol, CompositeBackend, StateBackend } from "@deepfs/core";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { generateText, stepCountIs } from "ai";
import { afterAll, describe, expect, it } from "vitest";
import { createFileTools } from "../src/index.js";
import { type ScriptedCall, scriptedModel } from "./scripted-model.js";

/** Runs `generateText` with a scripted model making `steps`; answers the tool results it saw, in call order. */
async function drive(backend: BackendProtocol, steps: ScriptedCall[][], options = {}) {
  const { model, seen, steps: count } = scriptedModel(steps);
  const result = await generateText({
    model,
    tools: createFileTools(backend, options),
    stopWhen: stepCountIs(count),
    prompt: "Work on the files.",
  });
  const results = steps.flatMap((calls, s) => calls.map((_, i) => seen.results.get(`call-${s}-${i}`)));
  return { text: result.text, results, seen };
}

const pgSkip = requireOrSkipReason("postgres");
const pgStatus = serviceStatus("postgres");
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const backends: Array<{ name: string; skip?: string; make: () => BackendProtocol }> = [
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
];

for (const { name, skip, make } of backends) {
  describe.skipIf(skip !== undefined)(`AI SDK tools over ${name}`, () => {
    it("writes then reads a file through generateText", async () => {
      const { text, results } = await drive(make(), [
        [{ toolName: "write_file", input: { file_path: "/notes/a.md", content: "alpha\nbeta\n" } }],
        [{ toolName: "read_file", input: { file_path: "/notes/a.md" } }],
        [{ toolName: "grep", input: { pattern: "beta" } }],
        [{ toolName: "ls", input: { path: "/notes" } }],
      ]);
      expect(text).toBe("done");
      expect(results).toEqual([
        "Successfully wrote to '/notes/a.md'",
        "@@ lines 1-2 of 2 @@\nalpha\nbeta",
        "/notes/a.md:\n  2: beta",
        "/notes/a.md (11 bytes)",
      ]);
    });

    it("answers escape attempts with error text the model sees", async () => {
      const { results } = await drive(make(), [
        [
          { toolName: "read_file", input: { file_path: "/../etc/passwd" } },
          { toolName: "write_file", input: { file_path: "..\\x", content: "x" } },
          { toolName: "ls", input: { path: "/a/../../etc" } },
        ],
      ]);
      expect(results).toHaveLength(3);
      for (const result of results) {
        expect(result).toMatch(/^Error.*\[invalid_path\]$/);
        expect(result).not.toContain("root:");
      }
    });

    it("routes through a CompositeBackend: a path outside a route and a read-only route are errors", async () => {
      const inner = make();
      const seed = await inner.write("/docs/guide.md", "read me\n");
      expect(seed.error).toBeUndefined();
      const router = new CompositeBackend(new StateBackend(), {
        "/work/": inner,
        "/ro/": { backend: inner, readOnly: true },
      });
      const { results } = await drive(router, [
        [{ toolName: "write_file", input: { file_path: "/work/out.md", content: "ok" } }],
        [
          { toolName: "write_file", input: { file_path: "/ro/docs/guide.md", content: "changed" } },
          { toolName: "edit_file", input: { file_path: "/ro/docs/guide.md", old_string: "read", new_string: "edit" } },
          { toolName: "read_file", input: { file_path: "/work/../../etc/passwd" } },
        ],
        [{ toolName: "read_file", input: { file_path: "/ro/docs/guide.md" } }],
      ]);
      expect(results[0]).toBe("Successfully wrote to '/work/out.md'");
      expect(results[1]).toMatch(/^Error: .*\[read_only\]$/);
      expect(results[2]).toMatch(/^Error: .*\[read_only\]$/);
      expect(results[3]).toMatch(/^Error: .*\[invalid_path\]$/);
      expect(results[4]).toBe("@@ lines 1-1 of 1 @@\nread me");
      expect((await inner.read("/out.md")).content).toBe("ok");
    });

    it("readOnly: true offers the model only the read tools", async () => {
      const { results, seen } = await drive(make(), [[{ toolName: "ls", input: {} }]], { readOnly: true });
      expect(seen.toolNames[0]?.sort()).toEqual(["glob", "grep", "ls", "read_file"]);
      expect(results[0]).toMatch(/^No files found in \/$|^\//);
    });
  });
}

describe("AI SDK tools: failures never escape the tool loop", () => {
  it("a backend that throws answers error text", async () => {
    const state = new StateBackend();
    const broken = new Proxy(state, {
      get(target, key, receiver) {
        if (key === "read") return () => Promise.reject(new Error("connection reset"));
        return Reflect.get(target, key, receiver);
      },
    });
    const { results, text } = await drive(broken, [[{ toolName: "read_file", input: { file_path: "/a.txt" } }]]);
    expect(text).toBe("done");
    expect(results[0]).toBe("Error: connection reset [backend_unavailable]");
  });

  it("a missing file answers file_not_found; only keeps the named tools", async () => {
    const { results, seen } = await drive(
      new StateBackend(),
      [[{ toolName: "read_file", input: { file_path: "/nope.md" } }]],
      {
        only: ["read_file", "glob"],
      },
    );
    expect(seen.toolNames[0]?.sort()).toEqual(["glob", "read_file"]);
    expect(results[0]).toMatch(/^Error: .*\/nope\.md.*\[file_not_found\]$/);
  });

  it("an unknown name in only is a construction error", () => {
    expect(() => createFileTools(new StateBackend(), { only: ["rm"] })).toThrow(/Unknown file tool/);
  });
});
