/**
 * The scenarios every framework adapter of the deepfs file tools (`@deepfs/tools` wrapped as AI SDK
 * tools, OpenAI Agents function tools, ...) must pass: a scripted model calls the tools through the
 * framework's own tool loop and sees the same texts, errors included.
 *
 * ```ts
 * import { defineFileToolsContract } from "@deepfs/conformance/file-tools";
 * defineFileToolsContract({ name: "My tools", backends, drive, create });
 * ```
 */
import { type BackendProtocol, CompositeBackend, StateBackend } from "@deepfs/core";
import { describe, expect, it } from "vitest";

/** One tool call a scripted model makes. */
export interface ScriptedToolCall {
  toolName: string;
  input: Record<string, unknown>;
}

/** The options the adapter passes on to its `createFileTools`. */
export interface FileToolsAdapterOptions {
  readOnly?: boolean;
  only?: readonly string[];
}

/** What one run of the framework's tool loop observed. */
export interface FileToolsRun {
  /** The model's final answer (the scripted model answers "done"). */
  text: unknown;
  /** The text the model received for each call of `steps`, in call order. */
  results: Array<string | undefined>;
  /** The tool names offered to the model, per model call. */
  toolNames: string[][];
}

/** A backend the scenarios run over; `skip` (a reason) skips its suite. */
export interface FileToolsBackend {
  name: string;
  skip?: string | undefined;
  make: () => BackendProtocol;
}

/** Options of {@link defineFileToolsContract}. */
export interface FileToolsContractOptions {
  /** Suite name prefix, e.g. `AI SDK tools`. */
  name: string;
  backends: readonly FileToolsBackend[];
  /**
   * Runs the framework's tool loop over `backend` with a scripted model that makes `steps` (one
   * step of calls per model call, then answers "done"), the tools built with `options`.
   */
  drive: (
    backend: BackendProtocol,
    steps: ScriptedToolCall[][],
    options?: FileToolsAdapterOptions,
  ) => Promise<FileToolsRun>;
  /** Builds the adapter's tools (only to check construction errors). */
  create: (backend: BackendProtocol, options: FileToolsAdapterOptions) => unknown;
}

/** Registers the file tool scenarios: one suite per backend, and one of failures over a StateBackend. */
export function defineFileToolsContract(options: FileToolsContractOptions): void {
  const { name: label, drive } = options;
  for (const { name, skip, make } of options.backends) {
    describe.skipIf(skip !== undefined)(`${label} over ${name}`, () => {
      it("writes then reads a file through the tool loop", async () => {
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
            {
              toolName: "edit_file",
              input: { file_path: "/ro/docs/guide.md", old_string: "read", new_string: "edit" },
            },
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
        const { results, toolNames } = await drive(make(), [[{ toolName: "ls", input: {} }]], { readOnly: true });
        expect(toolNames[0]?.sort()).toEqual(["glob", "grep", "ls", "read_file"]);
        expect(results[0]).toMatch(/^No files found in \/$|^\//);
      });
    });
  }

  describe(`${label}: failures never escape the tool loop`, () => {
    it("a backend that throws answers error text", async () => {
      const broken = new Proxy(new StateBackend(), {
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
      const { results, toolNames } = await drive(
        new StateBackend(),
        [[{ toolName: "read_file", input: { file_path: "/nope.md" } }]],
        { only: ["read_file", "glob"] },
      );
      expect(toolNames[0]?.sort()).toEqual(["glob", "read_file"]);
      expect(results[0]).toMatch(/^Error: .*\/nope\.md.*\[file_not_found\]$/);
    });

    it("an unknown name in only is a construction error", () => {
      expect(() => options.create(new StateBackend(), { only: ["rm"] })).toThrow(/Unknown file tool/);
    });
  });
}
