import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runAgentScenario } from "@deepfs/conformance/agent";
import { utf8ByteLength } from "@deepfs/core";
import { afterEach, beforeEach, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

let root: ReturnType<typeof tempRoot>;
beforeEach(() => {
  root = tempRoot();
});
afterEach(() => root.remove());

it("a real deep agent (createDeepAgent, scripted offline model) works on a LocalBackend", async () => {
  const backend = new LocalBackend({ rootDir: root.dir });
  const { files, byTool, toolResults } = await runAgentScenario(backend, { root: "/work" });

  expect(toolResults.map((r) => r.name)).toEqual([
    "write_file",
    "write_file",
    "read_file",
    "edit_file",
    "ls",
    "glob",
    "grep",
  ]);
  expect(toolResults[0]?.text).toBe(`Successfully wrote to '${files.todo}'`);
  expect(toolResults[1]?.text).toBe(`Successfully wrote to '${files.app}'`);
  expect(byTool.read_file?.text).toBe(`@@ lines 1-3 of 3 @@\n${files.todoWritten.slice(0, -1)}`);
  expect(byTool.edit_file?.text).toBe(`Successfully replaced 1 occurrence(s) in '${files.todo}'`);
  expect(byTool.ls?.text).toBe(`${files.todo} (${utf8ByteLength(files.todoEdited)} bytes)`);
  expect(byTool.glob?.text).toBe(files.app);
  expect(byTool.grep?.text).toBe(`${files.app}:\n  2:     print("${files.grepNeedle}")`);

  // What the agent did is on disk, below rootDir, and nothing else is.
  expect(readdirSync(root.dir, { recursive: true }).sort()).toEqual([
    "work",
    "work/notes",
    "work/notes/todo.md",
    "work/src",
    "work/src/app.py",
  ]);
  expect(readFileSync(join(root.dir, "work/notes/todo.md"), "utf8")).toBe(files.todoEdited);
  expect(readFileSync(join(root.dir, "work/src/app.py"), "utf8")).toBe(files.appContent);
}, 60_000);
