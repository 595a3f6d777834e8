import { describe, expect, it } from "vitest";
import { performStringReplacement } from "../src/index.js";

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
