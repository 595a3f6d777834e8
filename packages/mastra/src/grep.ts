import { type BackendProtocol, isFailure, relativeTo } from "@deepfs/core";
import {
  type FilesystemGrepOptions,
  type FilesystemGrepResult,
  UnsupportedGrepPatternError,
} from "@mastra/core/workspace";
import { toMastraError } from "./errors.js";
import { toBackendPath } from "./paths.js";

/** Characters that make a grep pattern more than a literal in a JS regex. */
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|]/;

/**
 * `DeepfsFilesystem.grep`: a case-sensitive literal without context lines searched in the store;
 * any other pattern is an `UnsupportedGrepPatternError`. Paths are relative to `options.path`.
 */
export async function grepLiteral(
  backend: BackendProtocol,
  options: FilesystemGrepOptions,
): Promise<FilesystemGrepResult[]> {
  const { pattern } = options;
  if (!options.caseSensitive || (options.contextLines ?? 0) > 0 || pattern === "" || REGEX_SYNTAX.test(pattern)) {
    throw new UnsupportedGrepPatternError(pattern, "deepfs searches case-sensitive literals without context");
  }
  const root = toBackendPath(options.path, "grep");
  const perFile = options.maxCountPerFile;
  const total = options.maxTotalMatches;
  // With a per-file cap the store cannot apply the total cap for us: matches it counts may be dropped.
  const found = await backend.grep(pattern, root, null, perFile === undefined ? (total ?? null) : null);
  if (isFailure(found)) throw toMastraError(found, options.path, "grep");
  const results: FilesystemGrepResult[] = [];
  let count = 0;
  for (const match of found.matches ?? []) {
    if (total !== undefined && count >= total) break;
    const path = relativeTo(match.path, root);
    let result = results.at(-1);
    if (result?.path !== path) {
      result = { path, matches: [] };
      results.push(result);
    }
    if (perFile !== undefined && result.matches.length >= perFile) continue;
    result.matches.push({ line: match.line, column: match.text.indexOf(pattern), text: match.text });
    count++;
  }
  return results.filter((r) => r.matches.length > 0);
}
