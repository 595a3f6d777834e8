import { describe, expect, it, vi } from "vitest";
import {
  countLines,
  decodeUtf8Lossy,
  decodeUtf8Strict,
  encodeUtf8,
  grepFileText,
  grepText,
  isSearchableText,
  normalizeReadWindow,
  readTextWindow,
  splitLines,
  utf8ByteLength,
} from "../src/index.js";

describe("lines", () => {
  it.each([
    ["", 0, []],
    ["a", 1, ["a"]],
    ["a\n", 1, ["a"]],
    ["\n", 1, [""]],
    ["a\n\n", 2, ["a", ""]],
    ["a\nb", 2, ["a", "b"]],
    ["a\r\nb\r\n", 2, ["a\r", "b\r"]],
    ["\n\n\n", 3, ["", "", ""]],
  ])("%j has %i lines", (text, count, lines) => {
    expect(countLines(text)).toBe(count);
    expect(splitLines(text)).toEqual(lines);
  });
});

describe("readTextWindow", () => {
  const text = "one\ntwo\nthree\nfour\nfive\n";

  it("returns raw lines with pagination fields", () => {
    expect(readTextWindow(text, 0, 2)).toEqual({
      content: "one\ntwo",
      totalLines: 5,
      startLine: 1,
      endLine: 2,
      nextOffset: 2,
    });
    expect(readTextWindow(text, 3, 2)).toEqual({ content: "four\nfive", totalLines: 5, startLine: 4, endLine: 5 });
    expect(readTextWindow(text)).toEqual({
      content: "one\ntwo\nthree\nfour\nfive",
      totalLines: 5,
      startLine: 1,
      endLine: 5,
    });
  });

  it("gives empty content and the line count past the end", () => {
    expect(readTextWindow(text, 5, 10)).toEqual({ content: "", totalLines: 5 });
    expect(readTextWindow(text, 99)).toEqual({ content: "", totalLines: 5 });
  });

  it("handles an empty text, with no range (as deepagents' StateBackend)", () => {
    expect(readTextWindow("")).toEqual({ content: "" });
    expect(readTextWindow("", 3, 2)).toEqual({ content: "" });
  });

  it("floors and clamps negative or fractional offset and limit", () => {
    expect(readTextWindow(text, -3, 1)).toMatchObject({ content: "one", startLine: 1 });
    expect(readTextWindow(text, 1.9, 1.9)).toMatchObject({ content: "two", startLine: 2, endLine: 2, nextOffset: 2 });
    expect(readTextWindow(text, 0, -1)).toEqual({ content: "", totalLines: 5 });
    expect(readTextWindow(text, Number.NaN, 1)).toMatchObject({ content: "one" });
    expect(normalizeReadWindow(undefined, undefined)).toEqual({ offset: 0, limit: 500 });
    expect(normalizeReadWindow(2.5, Number.NaN)).toEqual({ offset: 2, limit: 500 });
  });

  it("keeps CRLF and a missing final newline byte for byte", () => {
    expect(readTextWindow("a\r\nb\r\nc").content).toBe("a\r\nb\r\nc");
    expect(readTextWindow("a\r\nb\r\n").content).toBe("a\r\nb\r");
    expect(readTextWindow("x\n\ny").content).toBe("x\n\ny");
    expect(readTextWindow("x\n\n")).toMatchObject({ content: "x\n", totalLines: 2 });
  });

  it("paginates a long text exactly", () => {
    const lines = Array.from({ length: 1234 }, (_, i) => `line ${i}`);
    const joined = `${lines.join("\n")}\n`;
    const seen: string[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const window = readTextWindow(joined, offset, 500);
      seen.push(window.content as string);
      offset = window.nextOffset;
    }
    expect(seen).toHaveLength(3);
    expect(seen.join("\n")).toBe(lines.join("\n"));
  });
});

describe("grepText", () => {
  it("finds hits at the start and at the end without a final newline", () => {
    expect(grepText("foo\nbar\nfoo", "foo")).toEqual([
      { line: 1, text: "foo" },
      { line: 3, text: "foo" },
    ]);
    expect(grepText("xfoo", "foo")).toEqual([{ line: 1, text: "xfoo" }]);
  });

  it("keeps a CR at the end of a CRLF line", () => {
    expect(grepText("a\r\nfoo\r\nb\r\n", "foo")).toEqual([{ line: 2, text: "foo\r" }]);
  });

  it("counts a line with many hits once", () => {
    expect(grepText("foo foo foo\nbar\nfoofoo\n", "foo")).toEqual([
      { line: 1, text: "foo foo foo" },
      { line: 3, text: "foofoo" },
    ]);
  });

  it("counts lines correctly across empty lines and long gaps", () => {
    const text = `${"\n".repeat(10)}hit${"x\n".repeat(5)}hit\n\nhit`;
    expect(grepText(text, "hit").map((m) => m.line)).toEqual([11, 16, 18]);
  });

  it("is literal and case-sensitive", () => {
    expect(grepText("a.c\nabc\nA.C", "a.c")).toEqual([{ line: 1, text: "a.c" }]);
    expect(grepText("x(y)*\n", "(y)*")).toEqual([{ line: 1, text: "x(y)*" }]);
    expect(grepText("FOO", "foo")).toEqual([]);
  });

  it("stops at the limit", () => {
    expect(grepText("a\na\na\na", "a", 2)).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "a" },
    ]);
    expect(grepText("a", "a", 0)).toEqual([]);
  });

  it("never matches a pattern with a newline and matches every line for an empty pattern", () => {
    expect(grepText("a\nb", "a\nb")).toEqual([]);
    expect(grepText("a\nb\n", "")).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "b" },
    ]);
    expect(grepText("a\nb\nc", "", 2)).toHaveLength(2);
    expect(grepText("", "x")).toEqual([]);
  });

  it("agrees with a line-by-line search on random texts", () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pieces = ["ab", "a", "b", "\n", "\r\n", " ", "aba"];
    for (let i = 0; i < 500; i++) {
      const text = Array.from(
        { length: Math.floor(next() * 20) },
        () => pieces[Math.floor(next() * pieces.length)],
      ).join("");
      for (const pattern of ["ab", "a", "ba", "b a", ""]) {
        const expected = splitLines(text)
          .map((t, n) => ({ line: n + 1, text: t }))
          .filter((l) => l.text.includes(pattern));
        expect(grepText(text, pattern), JSON.stringify({ text, pattern })).toEqual(expected);
      }
    }
  });

  it("takes only the lines it answers for an empty pattern, without splitting the text", () => {
    const text = "first\n".concat("x\n".repeat(100_000));
    const split = vi.spyOn(String.prototype, "split");
    try {
      expect(grepText(text, "", 2)).toEqual([
        { line: 1, text: "first" },
        { line: 2, text: "x" },
      ]);
      expect(grepText("a\n\nb", "", 5)).toEqual([
        { line: 1, text: "a" },
        { line: 2, text: "" },
        { line: 3, text: "b" },
      ]);
      expect(split).not.toHaveBeenCalled();
    } finally {
      split.mockRestore();
    }
  });

  it("answers an empty pattern with a cap over more than 2^27 lines (a split there aborts the process)", () => {
    const text = "\n".repeat(2 ** 27 + 2);
    expect(grepText(text, "", 1)).toEqual([{ line: 1, text: "" }]);
  });

  it("grepFileText adds the path", () => {
    expect(grepFileText("/a.txt", "x\ny", "y")).toEqual([{ path: "/a.txt", line: 2, text: "y" }]);
  });
});

describe("UTF-8 helpers", () => {
  it("detects invalid UTF-8 and keeps a BOM", () => {
    expect(decodeUtf8Strict(new Uint8Array([0xff, 0xfe]))).toBeNull();
    expect(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe("\uFEFFa");
    expect(decodeUtf8Lossy(new Uint8Array([0x61, 0xff]))).toBe("a\uFFFD");
    expect(encodeUtf8("é")).toEqual(new Uint8Array([0xc3, 0xa9]));
    expect(utf8ByteLength("a😀é")).toBe(7);
  });

  it("isSearchableText rejects NUL", () => {
    expect(isSearchableText("abc")).toBe(true);
    expect(isSearchableText("a\u0000b")).toBe(false);
  });
});
