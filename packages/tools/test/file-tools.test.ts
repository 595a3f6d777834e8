import { StateBackend } from "@deepfs/core";
import { describe, expect, it } from "vitest";
import { type AnyFileToolDefinition, createFileToolDefinitions, GREP_TRUNCATION_NOTE } from "../src/index.js";

function run(tools: AnyFileToolDefinition[], name: string, input: Record<string, unknown>): Promise<string> {
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  return (tool.execute as (input: unknown) => Promise<string>)(tool.inputSchema.parse(input));
}

describe("createFileToolDefinitions", () => {
  it("answers the six tools in deepagents' order; readOnly and only narrow them", () => {
    const backend = new StateBackend();
    expect(createFileToolDefinitions(backend).map((t) => t.name)).toEqual([
      "ls",
      "read_file",
      "write_file",
      "edit_file",
      "glob",
      "grep",
    ]);
    expect(createFileToolDefinitions(backend, { readOnly: true }).map((t) => t.name)).toEqual([
      "ls",
      "read_file",
      "glob",
      "grep",
    ]);
    expect(
      createFileToolDefinitions(backend, { readOnly: true, only: ["grep", "edit_file"] }).map((t) => t.name),
    ).toEqual(["grep"]);
    expect(() => createFileToolDefinitions(backend, { only: ["delete"] })).toThrow(
      /Unknown file tool\(s\) in 'only': delete/,
    );
  });

  it("renders windows, edits, globs and grep like deepagents' tools", async () => {
    const tools = createFileToolDefinitions(new StateBackend());
    const lines = Array.from({ length: 5 }, (_, i) => `line ${i + 1}`).join("\n");
    expect(await run(tools, "write_file", { file_path: "/src/a.py", content: lines })).toBe(
      "Successfully wrote to '/src/a.py'",
    );
    expect(await run(tools, "read_file", { file_path: "/src/a.py", offset: 1, limit: 2 })).toBe(
      "@@ lines 2-3 of 5 | next offset 3 @@\nline 2\nline 3",
    );
    expect(await run(tools, "read_file", { file_path: "/src/a.py", offset: 9 })).toBe(
      "Error: line offset 9 is past the end of the file (5 lines) [invalid_argument]",
    );
    expect(
      await run(tools, "edit_file", {
        file_path: "/src/a.py",
        old_string: "line",
        new_string: "row",
        replace_all: true,
      }),
    ).toBe("Successfully replaced 5 occurrence(s) in '/src/a.py'");
    expect(await run(tools, "edit_file", { file_path: "/src/a.py", old_string: "row", new_string: "x" })).toMatch(
      /^Error: .*\[multiple_occurrences\]$/,
    );
    expect(await run(tools, "write_file", { file_path: "/empty.txt", content: "" })).toBe(
      "Successfully wrote to '/empty.txt'",
    );
    expect(await run(tools, "read_file", { file_path: "/empty.txt" })).toBe(
      "System reminder: File exists but has empty contents",
    );
    expect(await run(tools, "glob", { pattern: "**/*.py" })).toBe("/src/a.py");
    expect(await run(tools, "glob", { pattern: "*.rs" })).toBe("No files found matching pattern '*.rs'");
    expect(await run(tools, "glob", { pattern: "../*" })).toMatch(/^Error finding files: .*\[invalid_path\]$/);
    expect(await run(tools, "grep", { pattern: "row", max_count: 2 })).toBe(
      `/src/a.py:\n  1: row 1\n  2: row 2\n\n${GREP_TRUNCATION_NOTE}`,
    );
    expect(await run(tools, "grep", { pattern: "row", output_mode: "count" })).toBe("/src/a.py: 5");
    expect(await run(tools, "grep", { pattern: "zzz" })).toBe("No matches found for pattern 'zzz'");
    expect(await run(tools, "ls", { path: "/" })).toBe("/empty.txt\n/src/ (directory)");
    expect(await run(tools, "ls", { path: "/../x" })).toMatch(/^Error listing files: .*\[invalid_path\]$/);
  });

  it("describes a binary file instead of dumping it", async () => {
    const backend = new StateBackend();
    await backend.uploadFiles([["/img.png", new Uint8Array([137, 80, 78, 71])]]);
    const tools = createFileToolDefinitions(backend);
    expect(await run(tools, "read_file", { file_path: "/img.png" })).toBe(
      "'/img.png' is a binary file (image/png, 4 bytes); its bytes are not shown as text.",
    );
  });
});
