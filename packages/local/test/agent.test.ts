import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expectedToolResults, runAgentScenario } from "@deepfs/conformance/agent";
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
  const { files, toolResults } = await runAgentScenario(backend, { root: "/work" });

  expect(toolResults.map(({ name, text }) => ({ name, text }))).toEqual(expectedToolResults(files));

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
