// Examples that need no service: each is executed and its summary checked.
import { existsSync } from "node:fs";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { main as local } from "../local.js";
import { main as lowLevel } from "../low-level.js";
import { main as production } from "../production.js";
import { main as readOnlySource } from "../read-only-source.js";
import { main as reviewBeforeApply } from "../review-before-apply.js";
import { main as undo } from "../undo.js";

describe("local.ts", () => {
  it("stores virtual paths as real files under rootDir and refuses escapes", async () => {
    const summary = await local();
    expect(summary.write).toEqual({ path: "/src/app.py", etagChangedByEdit: true });
    expect(summary.onDisk).toBe('def main():\n    print("hello from deepfs")\n');
    expect(summary.read).toEqual({ content: 'def main():\n    print("hello from deepfs")', totalLines: 2 });
    expect(summary.grep).toEqual([{ path: "/src/app.py", line: 2, text: '    print("hello from deepfs")' }]);
    expect(summary.glob).toEqual(["/README.md"]);
    expect(summary.escapeAttempt).toBe("invalid_path");
    expect(summary.execute).toEqual({ output: "2", exitCode: 0 });
    // The temp root is removed when the example ends.
    expect(existsSync(summary.rootDir)).toBe(false);
  });
});

describe("low-level.ts", () => {
  it("shows windows, preconditions, routing, search, binary transfer and error codes", async () => {
    const summary = await lowLevel();
    expect(summary.createOnlyRefused).toBe("conflict");
    expect(summary.window).toEqual({ content: "two\nthree", startLine: 2, endLine: 3, nextOffset: 3 });
    expect(summary.numbered).toBe("     2\ttwo\n     3\tthree");
    expect(summary.edited).toBe(1);
    expect(summary.lostUpdateRefused).toBe("conflict");
    expect(summary.inMember).toEqual(["/log.txt"]);
    expect(summary.grep).toEqual([{ path: "/src/a.py", line: 1, text: "x = 1  # TODO (a)" }]);
    expect(summary.capped).toEqual({ matches: 1, truncated: true });
    expect(summary.glob).toEqual(["/src/a.py", "/src/b.ts"]);
    expect(summary.bytesExact).toBe(true);
    expect(summary.failures).toEqual({
      missing: "file_not_found",
      escape: "invalid_path",
      directory: "is_directory",
      emptyOldString: "invalid_argument",
      notFound: "string_not_found",
      execute: 126,
    });
    expect(summary.failureIsValue).toBe("File '/nope.txt' not found");
  });
});

describe("read-only-source.ts", () => {
  it("refuses every mutation under /sources/ and lets the agent work on a copy", async () => {
    const summary = await readOnlySource();
    expect(summary.found).toHaveLength(1);
    expect(summary.found?.[0]).toMatch(/^\/sources\/state-backend\.ts:\d+$/);
    expect(summary.refused).toEqual({ write: "read_only", edit: "read_only", delete: "read_only" });
    expect(summary.workspaceEdit).toEqual({ path: "/workspace/paths.ts", occurrences: 1 });
    expect(summary.sourceUnchanged).toBe(true);
    expect(summary.root).toEqual(["/sources/", "/workspace/"]);
  });
});

describe("review-before-apply.ts", () => {
  it("shows the branch's diff, and applies it to disk only when approved", async () => {
    const lines: string[] = [];
    const approved = await reviewBeforeApply({ approve: () => true, log: (line) => lines.push(line) });
    expect(approved.tools).toEqual(["read_file", "edit_file", "write_file", "write_file"]);
    expect(approved.changes).toEqual(["modified /app.py", "added /test_app.py"]);
    expect(approved.diskBeforeApproval).toBe('def greet(name):\n    return "hello " + name\n');
    expect(lines.join("\n")).toContain('-    return "hello " + name\n+    return f"hello, {name}!"\n');
    expect(approved.committed).toEqual(["/app.py", "/test_app.py"]);
    expect(approved.conflicts).toEqual([]);
    expect(approved.diskAfter).toBe('def greet(name):\n    return f"hello, {name}!"\n');
    expect(approved.testFileOnDisk).toBe(true);
    // The agent's scratch stayed in memory.
    expect(approved.scratchOnDisk).toBe(false);
    expect(approved.scratch).toContain("f-string");

    const refused = await reviewBeforeApply({ approve: () => false, log: () => {} });
    expect(refused.committed).toEqual([]);
    expect(refused.diskAfter).toBe('def greet(name):\n    return "hello " + name\n');
    expect(refused.testFileOnDisk).toBe(false);
  });
});

describe("undo.ts", () => {
  it("shows the history and the diff of an agent's edit in embedded PostgreSQL, then undoes it", async () => {
    const lines: string[] = [];
    const summary = await undo({ log: (line) => lines.push(line) });
    expect(summary.tools).toEqual(["read_file", "edit_file"]);
    expect(summary.versionsBefore).toEqual(["edit", "write"]);
    expect(summary.diff).toContain("-port = 8080\n+port = 80\n");
    expect(summary.content).toBe('[server]\nport = 8080\nhost = "127.0.0.1"\n');
    expect(summary.versionsAfter).toEqual(["restore", "edit", "write"]);
    expect(lines.at(-1)).toMatch(/^undone: restore of version /);
  }, 60_000);
});

describe("production.ts", () => {
  it("runs an agent on PostgreSQL into a deny rule and a quota, with an audit table and spans", async () => {
    const lines: string[] = [];
    const exporter = new InMemorySpanExporter();
    const summary = await production({ log: (line) => lines.push(line), exporter });
    expect(summary.calls.map((c) => c.name)).toEqual(["write_file", "read_file", "write_file", "ls"]);
    expect(summary.calls[1]?.result).toMatch(/Reading '\/secrets\/api-key.txt' was refused: rule #0 denies read/);
    expect(summary.calls[2]?.result).toMatch(/would exceed a quota: maxFileSize is 2048 bytes/);
    expect(summary.calls[3]?.result).not.toContain("secrets");
    expect(summary.events.map((e) => `${e.actor} ${e.operation} ${e.path} ${e.outcome} ${e.result}`)).toEqual([
      "acme/agent-1 write /notes/plan.md done ok",
      "acme/agent-1 write /reports/q4.md refused too_large",
      "globex write /notes/globex.md done ok",
    ]);
    expect(summary.usage).toEqual({ acme: { files: 2, bytes: 53 }, globex: { files: 1, bytes: 9 } });
    expect(summary.globexFiles).toEqual(["/notes/"]);
    const spans = exporter.getFinishedSpans();
    const denied = spans.find((s) => s.name === "deepfs.read" && s.attributes["deepfs.result"] === "permission_denied");
    expect(denied).toBeDefined();
    expect(spans.some((s) => s.attributes["deepfs.result"] === "too_large")).toBe(true);
    const dump = JSON.stringify([spans.map((s) => [s.attributes, s.status]), summary.events]);
    expect(dump).not.toMatch(/sk-live|ship the audit/);
    expect(lines).toContain("usage globex: 1 files, 9 bytes");
  }, 60_000);
});
