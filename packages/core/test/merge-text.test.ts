import { applyPatch } from "diff";
import { describe, expect, it } from "vitest";
import { mergeTexts, unifiedDiff } from "../src/index.js";

const text = (...lines: string[]) => lines.map((l) => `${l}\n`).join("");

describe("mergeTexts", () => {
  const base = text("a", "b", "c", "d", "e", "f", "g");

  it("keeps both sides' changes where they touch different lines", () => {
    const ours = text("A", "b", "c", "d", "e", "f", "g");
    const theirs = text("a", "b", "c", "d", "e", "F", "g", "h");
    expect(mergeTexts(base, ours, theirs)).toEqual({ ok: true, merged: text("A", "b", "c", "d", "e", "F", "g", "h") });
  });

  it("takes the one side that changed, and the same change once", () => {
    const changed = text("a", "B", "c", "d", "e", "f", "g");
    expect(mergeTexts(base, changed, base)).toEqual({ ok: true, merged: changed });
    expect(mergeTexts(base, base, changed)).toEqual({ ok: true, merged: changed });
    const both = text("a", "b", "c", "D", "e", "f", "g");
    expect(mergeTexts(base, both, both)).toEqual({ ok: true, merged: both });
  });

  it("reports overlapping and touching changes with both sides, and merges nothing", () => {
    const ours = text("a", "B1", "c", "d", "e", "f", "g");
    const theirs = text("a", "B2", "c", "d", "e", "f", "G");
    expect(mergeTexts(base, ours, theirs)).toEqual({
      ok: false,
      reason: "conflict",
      conflicts: [{ line: 2, base: "b\n", ours: "B1\n", theirs: "B2\n" }],
    });
    // Changes of adjacent lines conflict, as git counts them.
    const adjacent = mergeTexts(base, text("a", "B", "c", "d", "e", "f", "g"), text("a", "b", "C", "d", "e", "f", "g"));
    expect(adjacent.ok).toBe(false);
    // Two different insertions at one place conflict; a delete against an edit of the same line too.
    expect(
      mergeTexts(base, text("a", "x", "b", "c", "d", "e", "f", "g"), text("a", "y", "b", "c", "d", "e", "f", "g")),
    ).toMatchObject({
      conflicts: [{ line: 2, base: "", ours: "x\n", theirs: "y\n" }],
    });
    expect(
      mergeTexts(base, text("a", "c", "d", "e", "f", "g"), text("a", "BB", "c", "d", "e", "f", "g")),
    ).toMatchObject({
      conflicts: [{ line: 2, base: "b\n", ours: "", theirs: "BB\n" }],
    });
  });

  it("keeps line endings and a last line without one", () => {
    const crlf = "a\r\nb\r\nc\r\nd\r\ne";
    expect(mergeTexts(crlf, "A\r\nb\r\nc\r\nd\r\ne", "a\r\nb\r\nc\r\nd\r\nE")).toEqual({
      ok: true,
      merged: "A\r\nb\r\nc\r\nd\r\nE",
    });
    expect(mergeTexts("", "x\n", "")).toEqual({ ok: true, merged: "x\n" });
    expect(mergeTexts("", "x\n", "y\n")).toMatchObject({ ok: false, reason: "conflict" });
  });

  it("gives up on inputs past the edit budget instead of spending seconds (too_complex)", () => {
    const n = 60_000;
    const o = Array.from({ length: n }, (_, i) => `line ${i}\n`).join("");
    const a = Array.from({ length: n }, (_, i) => `ours ${i}\n`).join("");
    const b = Array.from({ length: n }, (_, i) => `theirs ${i}\n`).join("");
    expect(mergeTexts(o, a, b)).toEqual({ ok: false, reason: "too_complex" });
    // Many equal lines (the worst case of LCS-based merges) with a few changes are fine.
    const blank = `start\n${"\n".repeat(n)}end\n`;
    const ours = `x\n${"\n".repeat(n)}end\n`;
    const theirs = `start\n${"\n".repeat(n)}y\n`;
    expect(mergeTexts(blank, ours, theirs)).toEqual({ ok: true, merged: `x\n${"\n".repeat(n)}y\n` });
  });
});

describe("unifiedDiff past the edit budget", () => {
  it("answers the whole file replaced, a patch that still applies", () => {
    const n = 40_000;
    const before = Array.from({ length: n }, (_, i) => `old ${i}\n`).join("");
    const after = `${Array.from({ length: n }, (_, i) => `new ${i}\n`).join("")}tail`;
    const patch = unifiedDiff("/big.txt", before, after);
    expect(patch.startsWith("--- a/big.txt\n+++ b/big.txt\n@@ -1,40000 +1,40001 @@\n")).toBe(true);
    expect(patch.endsWith("+tail\n\\ No newline at end of file\n")).toBe(true);
    expect(applyPatch(before, patch)).toBe(after);
  });

  it("diffs small files in full, whatever their differences", () => {
    const before = Array.from({ length: 1000 }, (_, i) => `old ${i}\n`).join("");
    const after = Array.from({ length: 1000 }, (_, i) => (i % 2 ? `old ${i}\n` : `new ${i}\n`)).join("");
    const patch = unifiedDiff("/f.txt", before, after);
    expect(patch).toContain("@@ -1,");
    expect(patch.split("\n").filter((l) => l.startsWith("-old")).length).toBe(500);
    expect(applyPatch(before, patch)).toBe(after);
  });
});
