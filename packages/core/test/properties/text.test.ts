import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countLines, grepFileText, grepFileUtf8, grepText, readTextWindow, splitLines } from "../../src/index.js";

const RUNS = { numRuns: 300 };

/** Texts of short lines with `\n`, `\r\n`, lone `\r`, empty lines, and with or without a final newline. */
const text = fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "😀", "\n", "\n", "\r\n", "\r"), maxLength: 60 });

/** The lines of a text by the contract, computed independently of `splitLines`. */
function oracleLines(content: string): string[] {
  if (content === "") return [];
  const lines = content.split("\n");
  if (content.endsWith("\n")) lines.pop();
  return lines;
}

/** `content` without one final `\n`: what the windows of a text join back to. */
const withoutFinalNewline = (content: string) => (content.endsWith("\n") ? content.slice(0, -1) : content);

describe("line counting and read windows (properties)", () => {
  it("countLines and splitLines agree with the oracle, and the lines rebuild the text", () => {
    fc.assert(
      fc.property(text, (content) => {
        const lines = splitLines(content);
        expect(lines).toEqual(oracleLines(content));
        expect(countLines(content)).toBe(lines.length);
        for (const line of lines) expect(line.includes("\n")).toBe(false);
        expect(lines.join("\n") + (content.endsWith("\n") ? "\n" : "")).toBe(content);
      }),
      RUNS,
    );
  });

  it("following nextOffset through windows of size k reads every line once and rebuilds the text", () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 12 }), (content, k) => {
        const total = countLines(content);
        const parts: string[] = [];
        let offset: number | undefined = 0;
        let windows = 0;
        while (offset !== undefined) {
          const window = readTextWindow(content, offset, k);
          // An empty text has no range at all (as deepagents' StateBackend answers it).
          if (total === 0) {
            expect(window).toEqual({ content: "" });
            break;
          }
          expect(window.totalLines).toBe(total);
          const endLine = Math.min(offset + k, total);
          expect(window.startLine).toBe(offset + 1);
          expect(window.endLine).toBe(endLine);
          expect(window.nextOffset).toBe(endLine < total ? endLine : undefined);
          expect(window.content).toBe(oracleLines(content).slice(offset, endLine).join("\n"));
          parts.push(window.content as string);
          windows++;
          offset = window.nextOffset;
        }
        expect(windows).toBe(Math.ceil(total / k));
        if (total > 0) expect(parts.join("\n")).toBe(withoutFinalNewline(content));
      }),
      RUNS,
    );
  });

  it("a window past the end is empty and still reports totalLines (none for an empty text)", () => {
    fc.assert(
      fc.property(text, fc.nat(5), fc.integer({ min: 1, max: 10 }), (content, beyond, k) => {
        const total = countLines(content);
        const expected = total === 0 ? { content: "" } : { content: "", totalLines: total };
        expect(readTextWindow(content, total + beyond, k)).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("offsets and limits are floored and clamped: negative is 0, NaN and Infinity take the defaults", () => {
    fc.assert(
      fc.property(
        text,
        fc.double({ min: -5, max: 20, noNaN: true }),
        fc.double({ min: 0.5, max: 20, noNaN: true }),
        (content, offset, limit) => {
          const clamped = readTextWindow(content, Math.max(0, Math.floor(offset)), Math.floor(limit));
          expect(readTextWindow(content, offset, limit)).toEqual(clamped);
          expect(readTextWindow(content, Number.NaN, Number.POSITIVE_INFINITY)).toEqual(
            readTextWindow(content, 0, 500),
          );
        },
      ),
      RUNS,
    );
  });
});

describe("grepText against a naive oracle (properties)", () => {
  /** Every line that contains the pattern, by splitting the text; an empty pattern matches every line. */
  function naiveGrep(content: string, pattern: string): Array<{ line: number; text: string }> {
    if (pattern.includes("\n")) return [];
    return oracleLines(content)
      .map((line, i) => ({ line: i + 1, text: line }))
      .filter((m) => m.text.includes(pattern));
  }

  const pattern = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "\r", "\n"), maxLength: 3 }),
    fc.constantFrom("a", "ab", "\r", "😀", " a"),
  );

  it("finds exactly the lines the oracle finds, with their numbers and text", () => {
    fc.assert(
      fc.property(text, pattern, (content, needle) => {
        expect(grepText(content, needle)).toEqual(naiveGrep(content, needle));
      }),
      RUNS,
    );
  });

  it("a pattern taken from a line is found on that line", () => {
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), fc.nat(), (content, lineIndex, start, length) => {
        const lines = oracleLines(content);
        fc.pre(lines.length > 0);
        const i = lineIndex % lines.length;
        const line = lines[i] as string;
        const from = start % (line.length + 1);
        const needle = line.slice(from, from + (length % 4));
        expect(grepText(content, needle)).toContainEqual({ line: i + 1, text: line });
      }),
      RUNS,
    );
  });

  it("a limit returns the first matches only", () => {
    fc.assert(
      fc.property(text, pattern, fc.integer({ min: 0, max: 5 }), (content, needle, limit) => {
        expect(grepText(content, needle, limit)).toEqual(naiveGrep(content, needle).slice(0, limit));
      }),
      RUNS,
    );
  });

  it("grepFileUtf8 on the bytes finds what grepFileText finds on the text, limits included", () => {
    const wellFormed = fc.oneof(
      fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "😀", "\r"), minLength: 1, maxLength: 3 }),
      fc.constantFrom("a", "ab", "\r", "😀", " a", "é"),
    );
    fc.assert(
      fc.property(text, wellFormed, fc.integer({ min: 0, max: 6 }), (content, needle, limit) => {
        const bytes = Buffer.from(content, "utf8");
        expect(grepFileUtf8("/f", bytes, Buffer.from(needle, "utf8"), limit)).toEqual(
          grepFileText("/f", content, needle, limit),
        );
        // A plain Uint8Array view in the middle of a larger buffer searches only its own bytes.
        const framed = new Uint8Array(bytes.length + 4);
        framed.set(Buffer.from("ab\n"), 0);
        framed.set(bytes, 3);
        expect(grepFileUtf8("/f", framed.subarray(3, 3 + bytes.length), Buffer.from(needle, "utf8"))).toEqual(
          grepFileText("/f", content, needle),
        );
      }),
      RUNS,
    );
  });
});
