import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkPath, DeepfsError, MAX_NAME_BYTES, MAX_PATH_LENGTH, validatePath } from "../../src/index.js";

const RUNS = { numRuns: 300 };

/** Characters that stress the normaliser: separators, dots, and what it must refuse. */
const HOSTILE_UNIT = fc.constantFrom("a", "b", ".", "/", "//", "..", "\\", "~", ":", "C", "\u0000", "\n", "\u007f");
/** Any input: strings of hostile units, and arbitrary unicode strings. */
const anyInput = fc.oneof(
  fc.string({ unit: HOSTILE_UNIT, maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
);

/** A legal name: no separator, no control character, not `.` or `..`. */
const safeSegment = fc
  .string({
    unit: fc.constantFrom("a", "Z", "0", " ", ".", "-", "_", "~", ":", "%", "é", "中", "😀", "\u2024", "\uff0e"),
    minLength: 1,
    maxLength: 12,
  })
  .filter((s) => s !== "." && s !== "..");
/** A separator as users type it: `/`, `//`, `/./`. */
const separator = fc.constantFrom("/", "//", "///");

describe("checkPath / validatePath (properties)", () => {
  it("a normalised path is stable: normalising it again gives the same path", () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const checked = checkPath(input);
        if (!checked.ok) return;
        const again = checkPath(checked.path);
        expect(again).toEqual({ ok: true, path: checked.path });
      }),
      RUNS,
    );
  });

  it("a normalised path is absolute, has no '..', '.', '//', trailing '/' or control characters", () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const checked = checkPath(input);
        if (!checked.ok) return;
        const path = checked.path;
        expect(path.startsWith("/")).toBe(true);
        expect(path.includes("//")).toBe(false);
        expect(path === "/" || !path.endsWith("/")).toBe(true);
        expect(/[\u0000-\u001f\u007f\\]/.test(path)).toBe(false);
        for (const part of path.split("/").slice(1)) {
          if (path === "/") break;
          expect(part === "." || part === "..").toBe(false);
          expect(new TextEncoder().encode(part).length).toBeLessThanOrEqual(MAX_NAME_BYTES);
        }
        expect(path.length).toBeLessThanOrEqual(MAX_PATH_LENGTH);
      }),
      RUNS,
    );
  });

  it("validatePath returns what checkPath accepts and throws invalid_path for what it refuses", () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const checked = checkPath(input);
        if (checked.ok) {
          expect(validatePath(input)).toBe(checked.path);
        } else {
          expect(checked.code).toBe("invalid_path");
          expect(() => validatePath(input)).toThrow(DeepfsError);
          try {
            validatePath(input);
          } catch (error) {
            expect((error as DeepfsError).code).toBe("invalid_path");
          }
        }
      }),
      RUNS,
    );
  });

  it("accepts every path built from legal names, whatever the separators, and joins them with one '/'", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(separator, safeSegment), { minLength: 1, maxLength: 8 }),
        fc.constantFrom("", "/", "//"),
        (parts, tail) => {
          const input = parts.map(([sep, seg]) => sep + seg).join("") + tail;
          expect(checkPath(input)).toEqual({ ok: true, path: `/${parts.map(([, seg]) => seg).join("/")}` });
        },
      ),
      RUNS,
    );
  });

  it("refuses every path with a '.' component, wherever it is, naming the canonical form", () => {
    fc.assert(
      fc.property(fc.array(safeSegment, { maxLength: 6 }), fc.nat(), (segments, at) => {
        const parts = [...segments];
        parts.splice(at % (parts.length + 1), 0, ".");
        const checked = checkPath(`/${parts.join("/")}`);
        expect(checked.ok).toBe(false);
        if (!checked.ok) {
          expect(checked.code).toBe("invalid_path");
          expect(checked.error).toContain(JSON.stringify(`/${segments.join("/")}`));
        }
      }),
      RUNS,
    );
  });

  it("refuses every path with a '..' component, wherever it is", () => {
    fc.assert(
      fc.property(
        fc.array(safeSegment, { maxLength: 6 }),
        fc.nat(),
        fc.constantFrom("..", "../", "/.."),
        (segments, at, dots) => {
          const i = at % (segments.length + 1);
          const input = `/${[...segments.slice(0, i), dots, ...segments.slice(i)].join("/")}`;
          const checked = checkPath(input);
          expect(checked.ok, input).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it("refuses every path with a control character", () => {
    const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(safeSegment, safeSegment, fc.oneof(control, fc.constant("\u007f")), (a, b, c) => {
        expect(checkPath(`/${a}${c}${b}`).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it("refuses a name longer than MAX_NAME_BYTES bytes and accepts one of exactly that many", () => {
    fc.assert(
      fc.property(fc.constantFrom("a", "é", "中", "😀"), fc.integer({ min: 0, max: 3 }), (char, extra) => {
        const bytesPerChar = new TextEncoder().encode(char).length;
        const fits = char.repeat(Math.floor(MAX_NAME_BYTES / bytesPerChar));
        expect(checkPath(`/d/${fits}`).ok).toBe(true);
        expect(checkPath(`/d/${fits}${char.repeat(extra + 1)}`).ok).toBe(false);
      }),
      RUNS,
    );
  });

  // Boundary of the length rule: the input is measured before normalisation adds the leading '/'.
  it("a relative path of exactly MAX_PATH_LENGTH characters normalises to a path checkPath accepts", () => {
    const input = `${"a/".repeat(MAX_PATH_LENGTH / 2 - 1)}ab`;
    expect(input.length).toBe(MAX_PATH_LENGTH);
    const checked = checkPath(input);
    if (checked.ok) expect(checkPath(checked.path).ok, "the normalised path is refused").toBe(true);
  });
});
