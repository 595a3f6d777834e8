import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileParsedGlob } from "../../src/glob-pattern.js";
import type { Segment } from "../../src/glob-segment.js";
import { matchGroupedTokens, matchTokens } from "../../src/glob-simulate.js";
import { checkGlobPattern } from "../../src/index.js";

const RUNS = { numRuns: 3000 };

/**
 * The matcher before the automaton, kept as the reference: every brace alternative on its own,
 * a dynamic program over (segment, name) per alternative, each name matched by the token
 * simulations of glob-simulate.ts.
 */
function referenceMatcher(alternatives: Segment[][]): (path: string) => boolean {
  const matchAlternative = (segments: Segment[], names: string[]) => {
    const last = segments.length - 1;
    let reachable = new Uint8Array(names.length + 1);
    reachable[0] = 1;
    segments.forEach((segment, i) => {
      const next = new Uint8Array(names.length + 1);
      if (segment.globstar) {
        // Zero or more whole names; a trailing `**` after other segments needs at least one.
        const minimum = i === last && i > 0 ? 1 : 0;
        let open = false;
        for (let j = 0; j <= names.length; j++) {
          if (j - minimum >= 0 && reachable[j - minimum]) open = true;
          if (open) next[j] = 1;
        }
      } else {
        const test = segment.tokens.some((t) => t.kind === "group") ? matchGroupedTokens : matchTokens;
        for (let j = 0; j < names.length; j++) {
          if (reachable[j] && test(segment.tokens, [...(names[j] as string)])) next[j + 1] = 1;
        }
      }
      reachable = next;
    });
    return reachable[names.length] === 1;
  };
  return (path) => {
    const names = path.split("/");
    return alternatives.some((segments) => matchAlternative(segments, names));
  };
}

/** Pattern pieces: braces within and across segments, `**`, classes, extglobs, escapes, ranges. */
const PIECE = fc.constantFrom(
  "a",
  "b",
  "ab",
  ".t",
  "😀",
  "*",
  "?",
  "**",
  "[ab]",
  "[!a]",
  "[😀b]",
  "*a",
  "a*",
  "*.t",
  "\\*",
  "{a,b}",
  "{a,**}",
  "{**,?}",
  "{,a}",
  "{a/b,c}",
  "{*,a*b}",
  "{a,}/",
  "a{b,/}c",
  "{1..3}",
  "{a..c}",
  "@(a|b)",
  "+(a)",
  "*(a|b*)",
  "!(a)",
  "?(b)",
);
const pattern = fc
  .array(fc.array(PIECE, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 })
  .map((segments) => segments.map((pieces) => pieces.join("")).join("/"));
/**
 * Past eight distinct wildcard segments the automaton reads names character by character instead
 * of testing them whole: alternatives that match nothing here force that mode.
 */
const WIDE = Array.from({ length: 9 }, (_, i) => `zz/z${i}*`).join(",");
const anyPattern = fc.oneof(
  pattern,
  pattern.map((p) => `{${p},${WIDE}}`),
  fc.tuple(pattern, pattern).map(([p, q]) => `{${p},${q}}`),
);
const NAME = fc.constantFrom("a", "b", "ab", "ba", "aab", "bab", "a.t", ".t", "c", "1", "3", "😀", "a😀b", "zz", "*");
const relativePath = fc.array(NAME, { minLength: 1, maxLength: 7 }).map((names) => names.join("/"));

describe("the glob automaton against the per-alternative matcher (properties)", () => {
  it("selects the same paths for random patterns with braces, classes, extglobs and globstars", () => {
    let matched = 0;
    fc.assert(
      fc.property(anyPattern, fc.array(relativePath, { minLength: 1, maxLength: 12 }), (p, paths) => {
        const checked = checkGlobPattern(p);
        if (!checked.ok) return;
        const automaton = compileParsedGlob(checked.glob);
        const reference = referenceMatcher(checked.glob.alternatives);
        for (const path of paths) {
          const expected = reference(path);
          if (expected) matched++;
          expect(automaton(path), `${JSON.stringify(p)} on ${JSON.stringify(path)}`).toBe(expected);
        }
      }),
      {
        ...RUNS,
        examples: [
          [Array(9).fill("{**,?}").join("/"), ["a/b/c", "a"]],
          ["{a,b}/**/{**,?}", ["a/b", "a"]],
          [`{a/**/b,${WIDE}}`, ["a/b", "a/x/y/b", "b"]],
        ],
      },
    );
    // Not vacuous: the patterns match some of the paths.
    expect(matched).toBeGreaterThan(RUNS.numRuns / 20);
  });

  it("selects the same paths when the paths are built from the pattern's own pieces", () => {
    let matched = 0;
    fc.assert(
      fc.property(
        anyPattern,
        fc.array(fc.array(fc.constantFrom("a", "b", "ab", "a.t", "zz", "z1x"), { minLength: 1, maxLength: 9 })),
        (p, pathNames) => {
          const checked = checkGlobPattern(p);
          if (!checked.ok) return;
          const automaton = compileParsedGlob(checked.glob);
          const reference = referenceMatcher(checked.glob.alternatives);
          for (const names of pathNames) {
            const path = names.join("/");
            const expected = reference(path);
            if (expected) matched++;
            expect(automaton(path), `${JSON.stringify(p)} on ${JSON.stringify(path)}`).toBe(expected);
          }
        },
      ),
      RUNS,
    );
    expect(matched).toBeGreaterThan(RUNS.numRuns / 20);
  });
});
