/**
 * Names of the temporary files that backends writing through a real filesystem (LocalBackend,
 * DockerSandbox) create next to a target before renaming them over it.
 *
 * Such a name must never be one a user can give a file: otherwise a user file named like it would be
 * hidden from `ls`, `glob` and `grep` and survive a delete of its directory. Every name built here
 * contains a backslash, which `checkPath` refuses in any path, so no user path can name it, and the
 * listings hide exactly these names.
 */

/** What every internal temp name starts with; the backslash is what no valid path contains. */
export const INTERNAL_TEMP_PREFIX = ".deepfs\\";

/** What every internal temp name ends with. */
export const INTERNAL_TEMP_SUFFIX = ".tmp";

/** Tokens: lowercase letters and digits in groups joined by `-` (random hex, a nonce and a counter). */
const TOKEN = /^[0-9a-z]+(?:-[0-9a-z]+)*$/;
const NAME = /^\.deepfs\\[0-9a-z]+(?:-[0-9a-z]+)*\.tmp$/;

/**
 * The internal temp name for `token` (for example 16 random hex digits): `.deepfs\<token>.tmp`.
 * Shell scripts must quote it (the backslash is an escape character in double quotes).
 */
export function internalTempName(token: string): string {
  if (!TOKEN.test(token)) throw new RangeError("internal temp name tokens are lowercase letters, digits and '-'");
  return `${INTERNAL_TEMP_PREFIX}${token}${INTERNAL_TEMP_SUFFIX}`;
}

/** True for a base name built by {@link internalTempName}, and for no other name. */
export function isInternalTempName(name: string): boolean {
  return NAME.test(name);
}

/** True when the last segment of a `/`-separated path is an internal temp name. */
export function isInternalTempPath(path: string): boolean {
  return isInternalTempName(path.slice(path.lastIndexOf("/") + 1));
}
