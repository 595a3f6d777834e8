import type { ErrorCode, ErrorFields, FileInfo } from "@deepfs/core";
import { expect } from "vitest";

/** Asserts a returned failure: the exact `code` and a sentence in `error`. */
export function expectFailure(result: ErrorFields | undefined, code: ErrorCode): void {
  expect(result, "the call must resolve to a result").toBeTypeOf("object");
  expect(result?.code, `expected code '${code}', got ${JSON.stringify(result)}`).toBe(code);
  expect(result?.error, "a failure carries an error sentence").toBeTypeOf("string");
  expect(result?.error?.length).toBeGreaterThan(0);
}

/** Asserts a success: no `error`, no `code`. */
export function expectSuccess(result: ErrorFields | undefined, what = "the call"): void {
  expect(result, `${what} must resolve to a result`).toBeTypeOf("object");
  expect({ error: result?.error, code: result?.code }, `${what} must succeed`).toEqual({
    error: undefined,
    code: undefined,
  });
}

/** Index of the first differing byte, or -1 when equal. */
export function firstDifference(actual: Uint8Array, expected: Uint8Array): number {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i;
  return actual.length === expected.length ? -1 : n;
}

/** Asserts `actual` is a `Uint8Array` with exactly the bytes of `expected`, with a readable message. */
export function expectBytes(actual: unknown, expected: Uint8Array, label = "content"): void {
  expect(actual instanceof Uint8Array, `${label} must be a Uint8Array, got ${typeof actual}`).toBe(true);
  const bytes = actual as Uint8Array;
  const diff = firstDifference(bytes, expected);
  expect(diff, `${label}: ${bytes.length} bytes, expected ${expected.length}; first difference at byte ${diff}`).toBe(
    -1,
  );
}

/** The `path`s of a listing, in the order returned. */
export function pathsOf(files: FileInfo[] | undefined): string[] {
  expect(Array.isArray(files), "a listing must carry `files`").toBe(true);
  return (files ?? []).map((f) => f.path);
}

/** True when `value` parses as a date written in ISO 8601 form (`YYYY-MM-DDTHH:MM...`). */
export function isIsoDate(value: unknown): boolean {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) && !Number.isNaN(Date.parse(value));
}
