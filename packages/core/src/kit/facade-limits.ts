/**
 * The sizes a facade bounds its calls by: its options first, then the store's own limits (carried
 * in the driver's capabilities), then the defaults. Checked once, when the facade is built.
 */
import { MAX_EDIT_FILE_BYTES } from "../edit.js";
import { DeepfsError } from "../errors.js";
import { DEFAULT_GREP_LIMITS, type GrepLimits } from "../grep.js";
import type { StoreLimits } from "./driver.js";
import type { FacadeOptions } from "./facade.js";

/** `value` when it is a whole number >= 0 (a limit), else a configuration error naming `name`. */
function wholeNumber(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new DeepfsError("invalid_argument", `${name} must be a non-negative integer`);
  }
  return value;
}

/** The edit and grep bounds of a facade with `options` over a store with `store` limits. */
export function facadeLimits(
  options: FacadeOptions,
  store: StoreLimits = {},
): { editMaxBytes: number; grepLimits: GrepLimits } {
  return {
    // An edit never makes a file the store's reads would then refuse.
    editMaxBytes: wholeNumber(
      "maxEditFileBytes",
      options.maxEditFileBytes ?? Math.min(MAX_EDIT_FILE_BYTES, store.maxFileBytes ?? MAX_EDIT_FILE_BYTES),
    ),
    grepLimits: {
      maxMatches: wholeNumber(
        "maxGrepMatches",
        options.maxGrepMatches ?? store.maxGrepMatches ?? DEFAULT_GREP_LIMITS.maxMatches,
      ),
      maxTextLength: wholeNumber(
        "maxGrepTextLength",
        options.maxGrepTextLength ?? store.maxGrepTextLength ?? DEFAULT_GREP_LIMITS.maxTextLength,
      ),
    },
  };
}
