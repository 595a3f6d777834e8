// `pnpm demo` run twice on one state directory: the second run finds the first run's memory in the
// embedded PostgreSQL database, after every backend was closed and the database reopened.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../demo.js";

describe("demo.ts", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "deepfs-demo-test-"));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const quiet = { stateDir, model: "scripted" as const, log: () => {} };

  it("first run: creates the memory and puts each file in its backend", async () => {
    const lines: string[] = [];
    const summary = await main({ ...quiet, log: (line) => lines.push(line) });
    expect(summary.run).toBe(1);
    expect(summary.model).toBe("scripted (offline)");
    expect(summary.toolCalls.map((c) => c.name)).toEqual([
      "ls",
      "write_file",
      "write_file",
      "edit_file",
      "write_file",
      "glob",
      "grep",
    ]);
    expect(summary.toolCalls[0]?.result).toBe("No files found in /memories/");
    expect(summary.files).toEqual([
      {
        path: "/memories/visits.md",
        backend: "PostgresBackend",
        location: expect.stringMatching(/^row \(namespace 'default', path '\/visits\.md'\) of public\.deepfs_files/),
      },
      {
        path: "/project/src/greet.py",
        backend: "LocalBackend",
        location: `${join(stateDir, "project", "src", "greet.py")} (46 bytes)`,
      },
      { path: "/scratch/plan.md", backend: "StateBackend", location: "the run's state (result.files)" },
    ]);
    expect(readFileSync(join(stateDir, "project", "src", "greet.py"), "utf8")).toBe(
      'def greet(name):\n    return f"Hello, {name}!"\n',
    );
    expect(summary.memoriesAfterRestart).toMatch(/^# Visits\n- run 1: \S+$/);
    expect(lines.join("\n")).toContain("→ grep");
  });

  it("second run: the agent reads the memory back and records a second visit", async () => {
    const summary = await main(quiet);
    expect(summary.run).toBe(2);
    expect(summary.toolCalls.slice(0, 3).map((c) => c.name)).toEqual(["ls", "read_file", "edit_file"]);
    expect(summary.toolCalls[0]?.result).toContain("/memories/visits.md");
    expect(summary.toolCalls[1]?.result).toContain("- run 1:");
    expect(summary.memoriesAfterRestart).toMatch(/^# Visits\n- run 2: \S+\n- run 1: \S+$/);
  });
});
