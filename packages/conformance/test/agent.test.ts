import {
  BaseSandbox,
  CompositeBackend,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileUploadResponse,
  fileDataToString,
  MemoryBackend,
  StateBackend,
} from "@deepfs/core";
import { isSandboxBackend } from "deepagents";
import { describe, expect, it } from "vitest";
import { type AgentScenarioResult, expectedToolResults, runAgentScenario } from "../src/agent-scenario.js";

const AGENT_TIMEOUT = 60_000;

/** The tool results every run of the scenario must produce, whatever the backend. */
function expectToolResults(result: AgentScenarioResult): void {
  const { files, byTool, toolResults } = result;
  expect(toolResults.map(({ name, text }) => ({ name, text }))).toEqual(expectedToolResults(files));
  const read = byTool.read_file?.text ?? "";
  expect(read.split(files.todoWritten.slice(0, -1)).length - 1, "the file's text appears exactly once").toBe(1);
  expect(read, "the backend adds no line numbers of its own").not.toMatch(/^\s*\d+\t/m);
}

function stored(backend: MemoryBackend): Record<string, string> {
  return Object.fromEntries(Object.entries(backend.files).map(([path, data]) => [path, fileDataToString(data)]));
}

describe("a real deep agent (createDeepAgent, scripted offline model) on deepfs backends", () => {
  it(
    "works on the default route of a CompositeBackend",
    async () => {
      // MemoryBackends: stores shared by every run, so that the test can look inside after the run.
      const main = new MemoryBackend();
      const memories = new MemoryBackend();
      const result = await runAgentScenario(new CompositeBackend(main, { "/memories/": memories }), { root: "/" });
      expectToolResults(result);
      expect(stored(main)).toEqual({
        "/notes/todo.md": result.files.todoEdited,
        "/src/app.py": result.files.appContent,
      });
      expect(stored(memories)).toEqual({});
    },
    AGENT_TIMEOUT,
  );

  it(
    "works below a mounted route, which stores paths without its prefix",
    async () => {
      const main = new MemoryBackend();
      const memories = new MemoryBackend();
      const result = await runAgentScenario(
        new CompositeBackend({ default: main, routes: { "/memories/": memories } }),
        {
          root: "/memories",
        },
      );
      expect(result.files.todo).toBe("/memories/notes/todo.md");
      expectToolResults(result);
      expect(stored(memories)).toEqual({
        "/notes/todo.md": result.files.todoEdited,
        "/src/app.py": result.files.appContent,
      });
      expect(stored(main)).toEqual({});
    },
    AGENT_TIMEOUT,
  );

  it(
    "works on a bare StateBackend in a subdirectory",
    async () => {
      const backend = new StateBackend();
      const result = await runAgentScenario(backend, { root: "/work/t1" });
      expectToolResults(result);
      // The files lived in the run's state (the thread's `files` channel), not in the object.
      expect(backend.files).toEqual({});
    },
    AGENT_TIMEOUT,
  );

  it("deepagents recognises a BaseSandbox subclass as a sandbox and a StateBackend as not one", () => {
    class NullSandbox extends BaseSandbox {
      readonly id = "null-sandbox";
      execute(): ExecuteResponse {
        return { output: "", exitCode: 0, truncated: false };
      }
      async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
        return files.map(([path]) => ({ path, error: null }));
      }
      async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
        return paths.map((path) => ({ path, content: null, error: "file_not_found" }));
      }
    }
    expect(isSandboxBackend(new NullSandbox())).toBe(true);
    expect(isSandboxBackend(new StateBackend())).toBe(false);
  });
});
