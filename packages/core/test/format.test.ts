import { describe, expect, it, vi } from "vitest";
import {
  checkEmptyContent,
  EMPTY_CONTENT_WARNING,
  formatContentWithLineNumbers,
  formatGrepMatches,
  formatReadResponse,
  groupGrepMatches,
  MAX_LINE_LENGTH,
  sanitizeToolCallId,
  TOOL_RESULT_CHAR_LIMIT,
  TRUNCATION_GUIDANCE,
  truncateIfTooLong,
} from "../src/index.js";

describe("formatContentWithLineNumbers", () => {
  it("renders a 6-wide right-aligned number, a tab and the line", () => {
    expect(formatContentWithLineNumbers("a\nb\n")).toBe("     1\ta\n     2\tb");
    expect(formatContentWithLineNumbers(["x"], 42)).toBe("    42\tx");
    expect(formatContentWithLineNumbers("x", 1234567)).toBe("1234567\tx");
    expect(formatContentWithLineNumbers("")).toBe("");
    expect(formatContentWithLineNumbers("a\n\nb")).toBe("     1\ta\n     2\t\n     3\tb");
  });

  it("numbers a text line by line without splitting it, across the batches it joins", () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? "" : `line ${i}`));
    const expected = lines.map((line, i) => `${String(i + 7).padStart(6)}\t${line}`).join("\n");
    const split = vi.spyOn(String.prototype, "split");
    try {
      expect(formatContentWithLineNumbers(`${lines.join("\n")}\n`, 7)).toBe(expected);
      expect(split).not.toHaveBeenCalled();
    } finally {
      split.mockRestore();
    }
    expect(formatContentWithLineNumbers(lines, 7)).toBe(expected);
  });

  it("splits lines over 5,000 characters into N.1, N.2 rows", () => {
    expect(MAX_LINE_LENGTH).toBe(5000);
    const long = `${"a".repeat(5000)}${"b".repeat(5000)}${"c".repeat(1234)}`;
    const rows = formatContentWithLineNumbers(`short\n${long}\nend`).split("\n");
    expect(rows).toEqual([
      "     1\tshort",
      `     2\t${"a".repeat(5000)}`,
      `   2.1\t${"b".repeat(5000)}`,
      `   2.2\t${"c".repeat(1234)}`,
      "     3\tend",
    ]);
    expect(formatContentWithLineNumbers("x".repeat(5000)).split("\n")).toHaveLength(1);
    expect(formatContentWithLineNumbers("x".repeat(5001)).split("\n")).toEqual([
      `     1\t${"x".repeat(5000)}`,
      "   1.1\tx",
    ]);
  });
});

describe("formatReadResponse and checkEmptyContent", () => {
  it("renders windows, empty files, binary content and errors", () => {
    expect(formatReadResponse({ content: "a\nb", startLine: 3, endLine: 4, totalLines: 4 })).toBe(
      "     3\ta\n     4\tb",
    );
    expect(formatReadResponse({ content: "a", startLine: 1, endLine: 1, totalLines: 9, nextOffset: 1 })).toContain(
      "continue with offset=1",
    );
    expect(formatReadResponse({ content: "", totalLines: 0 })).toBe(EMPTY_CONTENT_WARNING);
    expect(formatReadResponse({ content: "", totalLines: 3 })).toMatch(/past the end/);
    expect(formatReadResponse({ content: new Uint8Array(3), mimeType: "image/png" })).toBe(
      "[binary content: image/png, 3 bytes]",
    );
    expect(formatReadResponse({ error: "File '/x' not found", code: "file_not_found" })).toBe(
      "Error: File '/x' not found",
    );
    expect(checkEmptyContent(" \n")).toBe(EMPTY_CONTENT_WARNING);
    expect(checkEmptyContent("x")).toBeNull();
  });
});

describe("truncateIfTooLong and sanitizeToolCallId", () => {
  it("cuts long strings and lists", () => {
    expect(truncateIfTooLong("short")).toBe("short");
    const cut = truncateIfTooLong("x".repeat(TOOL_RESULT_CHAR_LIMIT + 10));
    expect(cut.endsWith(TRUNCATION_GUIDANCE)).toBe(true);
    expect(cut.length).toBe(TOOL_RESULT_CHAR_LIMIT + 1 + TRUNCATION_GUIDANCE.length);
    const lines = Array.from({ length: 100 }, () => "y".repeat(1000));
    const kept = truncateIfTooLong(lines);
    expect(kept.at(-1)).toBe(TRUNCATION_GUIDANCE);
    expect(kept.length).toBe(81);
    expect(truncateIfTooLong(["a", "b"])).toEqual(["a", "b"]);
  });

  it("makes tool call ids safe as file names", () => {
    expect(sanitizeToolCallId("call/../x\\y.z")).toBe("call____x_y_z");
  });
});

describe("grep match formatting", () => {
  const matches = [
    { path: "/a.txt", line: 1, text: "hit" },
    { path: "/a.txt", line: 3, text: "hit again" },
    { path: "/b.txt", line: 2, text: "hit" },
  ];

  it("groups by file in the order first seen", () => {
    expect([...groupGrepMatches(matches)]).toEqual([
      [
        "/a.txt",
        [
          { line: 1, text: "hit" },
          { line: 3, text: "hit again" },
        ],
      ],
      ["/b.txt", [{ line: 2, text: "hit" }]],
    ]);
  });

  it("renders each output mode", () => {
    expect(formatGrepMatches([])).toBe("No matches found");
    expect(formatGrepMatches(matches)).toBe("/a.txt\n/b.txt");
    expect(formatGrepMatches(matches, "count")).toBe("/a.txt: 2\n/b.txt: 1");
    expect(formatGrepMatches(matches, "content")).toBe("/a.txt:\n  1: hit\n  3: hit again\n/b.txt:\n  2: hit");
  });
});
