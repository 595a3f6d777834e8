// The driver of custom-backend.ts passes the driver rules and the whole deepfs contract suite, and
// a deep agent works on it: what a third party's test of their own driver looks like.
import { defineDriverContract } from "@deepfs/conformance";
import { expect, it } from "vitest";
import { MapDriver, main } from "../custom-backend.js";

defineDriverContract({ name: "MapDriver", create: () => new MapDriver(), capabilities: { execute: false } });

it("custom-backend.ts: a deep agent writes, edits and searches files in a MapBackend", async () => {
  const summary = await main();
  expect(summary.tools).toEqual(["write_file", "write_file", "read_file", "edit_file", "ls", "glob", "grep"]);
  expect(summary.edited).toBe(true);
  expect(summary.files).toEqual(["/work/notes/todo.md", "/work/src/app.py"]);
});
