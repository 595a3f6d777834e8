import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { performStringReplacement } from "../../src/index.js";

const RUNS = { numRuns: 300 };

/** Small alphabets so that needles occur, including `$&`-style replacement patterns and newlines. */
const text = fc.string({
  unit: fc.constantFrom("a", "b", "ab", "\n", "\r\n", "$", "&", "'", "`", "é", "😀"),
  maxLength: 24,
});
const needle = fc.string({ unit: fc.constantFrom("a", "b", "\n", "$", "&", "é"), minLength: 1, maxLength: 3 });

/** Non-overlapping occurrences, left to right: what split finds. */
const occurrencesOf = (content: string, old: string) => content.split(old).length - 1;

/** Positions where `needle` starts, overlapping ones included. */
function positionsOf(content: string, needle: string): number {
  let n = 0;
  for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + 1)) n++;
  return n;
}

describe("performStringReplacement (properties)", () => {
  it("equals split/join and counts the occurrences when it succeeds; fails with the right code otherwise", () => {
    fc.assert(
      fc.property(text, needle, text, fc.boolean(), (content, oldString, newString, replaceAll) => {
        const n = occurrencesOf(content, oldString);
        const result = performStringReplacement(content, oldString, newString, replaceAll, "'/f.txt'");
        if (n === 0) {
          expect(result).toMatchObject({ ok: false, code: "string_not_found" });
        } else if (n > 1 && !replaceAll) {
          expect(result).toMatchObject({ ok: false, code: "multiple_occurrences" });
          if (!result.ok) expect(result.error).toContain(`${n} times`);
        } else {
          expect(result).toEqual({ ok: true, content: content.split(oldString).join(newString), occurrences: n });
        }
        if (!result.ok) expect(result.error).toContain("'/f.txt'");
      }),
      RUNS,
    );
  });

  it("a needle taken from the content is always found", () => {
    fc.assert(
      fc.property(text, text, text, text, (before, middle, after, newString) => {
        fc.pre(middle.length > 0);
        const content = before + middle + after;
        const result = performStringReplacement(content, middle, newString, true);
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(result.occurrences).toBeGreaterThanOrEqual(1);
          expect(result.content).toBe(content.split(middle).join(newString));
        }
      }),
      RUNS,
    );
  });

  it("replacing a unique needle with itself, or back again, restores the content", () => {
    fc.assert(
      fc.property(text, needle, text, (content, oldString, newString) => {
        fc.pre(positionsOf(content, oldString) === 1 && newString.length > 0);
        const there = performStringReplacement(content, oldString, newString);
        expect(there.ok).toBe(true);
        if (!there.ok) return;
        // Only when the inserted text is the one place newString appears can the edit be undone.
        fc.pre(positionsOf(there.content, newString) === 1);
        const back = performStringReplacement(there.content, newString, oldString);
        expect(back).toEqual({ ok: true, content, occurrences: 1 });
        expect(performStringReplacement(content, oldString, oldString)).toEqual({ ok: true, content, occurrences: 1 });
      }),
      RUNS,
    );
  });

  it("an empty old_string only fills an empty file", () => {
    fc.assert(
      fc.property(text, text, (content, newString) => {
        const result = performStringReplacement(content, "", newString);
        if (content === "") expect(result).toEqual({ ok: true, content: newString, occurrences: 0 });
        else expect(result).toMatchObject({ ok: false, code: "invalid_argument" });
      }),
      RUNS,
    );
  });
});
