import { describe, expect, it, vi } from "vitest";
import { MAX_EDIT_FILE_BYTES, performStringReplacement } from "../src/index.js";

describe("performStringReplacement", () => {
  it("replaces a single occurrence", () => {
    expect(performStringReplacement("a foo b", "foo", "bar")).toEqual({ ok: true, content: "a bar b", occurrences: 1 });
  });

  it("answers string_not_found for 0 hits", () => {
    const result = performStringReplacement("abc", "x", "y", false, "'/f.txt'");
    expect(result).toMatchObject({ ok: false, code: "string_not_found" });
    if (!result.ok) expect(result.error).toContain("'/f.txt'");
  });

  it("answers multiple_occurrences with the count unless replaceAll", () => {
    const result = performStringReplacement("x x x", "x", "y");
    expect(result).toMatchObject({ ok: false, code: "multiple_occurrences" });
    if (!result.ok) {
      expect(result.error).toContain("3 times");
      expect(result.error).toContain("replace_all");
    }
    expect(performStringReplacement("x x x", "x", "y", true)).toEqual({ ok: true, content: "y y y", occurrences: 3 });
  });

  it("treats an empty old string by the content", () => {
    expect(performStringReplacement("", "", "new")).toEqual({ ok: true, content: "new", occurrences: 0 });
    expect(performStringReplacement("x", "", "new")).toMatchObject({ ok: false, code: "invalid_argument" });
  });

  it("is literal: regex metacharacters and replacement patterns are plain text", () => {
    expect(performStringReplacement("a.*b", ".*", "$&$1")).toEqual({ ok: true, content: "a$&$1b", occurrences: 1 });
    expect(performStringReplacement("(x)[y]", "(x)[y]", "$$")).toEqual({ ok: true, content: "$$", occurrences: 1 });
  });

  it("handles multiline strings and CRLF", () => {
    expect(performStringReplacement("a\r\nb\r\nc", "a\r\nb", "z")).toEqual({
      ok: true,
      content: "z\r\nc",
      occurrences: 1,
    });
  });

  it("counts non-overlapping occurrences", () => {
    expect(performStringReplacement("aaa", "aa", "b")).toEqual({ ok: true, content: "ba", occurrences: 1 });
    expect(performStringReplacement("aaaa", "aa", "b", true)).toEqual({ ok: true, content: "bb", occurrences: 2 });
  });

  it("succeeds when old equals new", () => {
    expect(performStringReplacement("keep", "keep", "keep")).toEqual({ ok: true, content: "keep", occurrences: 1 });
  });

  it("never quotes file contents in messages", () => {
    const result = performStringReplacement("secret-token", "absent", "x");
    if (!result.ok) expect(result.error).not.toContain("secret");
  });
});

describe("performStringReplacement bounds", () => {
  it("refuses a result over maxBytes with too_large, naming the path, the size and the limit", () => {
    const result = performStringReplacement("secret a a", "a", "bbb", true, "'/f.txt'", 13);
    expect(result).toMatchObject({ ok: false, code: "too_large" });
    if (!result.ok) {
      expect(result.error).toContain("'/f.txt'");
      expect(result.error).toContain("14 bytes");
      expect(result.error).toContain("13 bytes");
      expect(result.error).not.toContain("secret");
    }
    expect(performStringReplacement("secret a a", "a", "bbb", true, "'/f.txt'", 14)).toEqual({
      ok: true,
      content: "secret bbb bbb",
      occurrences: 2,
    });
  });

  it("counts UTF-8 bytes, not UTF-16 units", () => {
    // "é" is 1 unit and 2 bytes, "😀" 2 units and 4 bytes, "€" 1 unit and 3 bytes.
    expect(performStringReplacement("ab", "b", "é😀€", false, "f", 10)).toMatchObject({ ok: true, content: "aé😀€" });
    expect(performStringReplacement("ab", "b", "é😀€", false, "f", 9)).toMatchObject({ ok: false, code: "too_large" });
    expect(performStringReplacement("éé", "é", "x", true, "f", 2)).toMatchObject({ ok: true, content: "xx" });
    expect(performStringReplacement("€x€", "x", "y", false, "f", 6)).toMatchObject({ ok: false, code: "too_large" });
  });

  it("bounds the text an empty old string writes into an empty file", () => {
    expect(performStringReplacement("", "", "abcd", false, "f", 3)).toMatchObject({ ok: false, code: "too_large" });
    expect(performStringReplacement("", "", "abc", false, "f", 3)).toEqual({
      ok: true,
      content: "abc",
      occurrences: 0,
    });
  });

  it("lets old === new through whatever the size: nothing is built", () => {
    expect(performStringReplacement("aaaa", "a", "a", true, "f", 2)).toEqual({
      ok: true,
      content: "aaaa",
      occurrences: 4,
    });
  });

  it("defaults to MAX_EDIT_FILE_BYTES (64 MiB): exactly the limit is built, one byte more is refused", () => {
    expect(MAX_EDIT_FILE_BYTES).toBe(64 * 1024 * 1024);
    const exact = performStringReplacement("a".repeat(1024), "a", "b".repeat(64 * 1024), true);
    expect(exact.ok && exact.content.length).toBe(MAX_EDIT_FILE_BYTES);
    const over = performStringReplacement(`${"a".repeat(1024)}c`, "a", "b".repeat(64 * 1024), true, "'/big.txt'");
    expect(over).toMatchObject({ ok: false, code: "too_large" });
    if (!over.ok) expect(over.error).toContain(`${MAX_EDIT_FILE_BYTES + 1} bytes`);
  });

  it("refuses the amplification of the review's repro before building it", () => {
    const million = "a".repeat(1_000_000);
    expect(performStringReplacement(million, "a", "a".repeat(140), true, "'/f.txt'")).toMatchObject({
      ok: false,
      code: "too_large",
    });
  });

  it("replaces every occurrence without splitting the text (V8 aborts past 2^27 pieces)", () => {
    const content = "xa".repeat(20_000);
    const split = vi.spyOn(String.prototype, "split");
    try {
      const result = performStringReplacement(content, "a", "bc", true);
      expect(split).not.toHaveBeenCalled();
      expect(result).toEqual({ ok: true, content: "xbc".repeat(20_000), occurrences: 20_000 });
    } finally {
      split.mockRestore();
    }
  });

  it("replaces like split/join on random texts, across the batches it joins", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pieces = ["ab", "a", "b", "$&", "\n", "é", "😀"];
    for (let i = 0; i < 300; i++) {
      const length = i % 50 === 0 ? 20_000 : Math.floor(next() * 30);
      const content = Array.from({ length }, () => pieces[Math.floor(next() * pieces.length)]).join("");
      for (const [oldString, newString] of [
        ["a", "$$"],
        ["ab", ""],
        ["b", "é😀$'"],
      ] as const) {
        const hits = content.split(oldString).length - 1;
        if (hits === 0) continue;
        expect(performStringReplacement(content, oldString, newString, true)).toEqual({
          ok: true,
          content: content.split(oldString).join(newString),
          occurrences: hits,
        });
      }
    }
  });
});
