import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { DeepfsError, type HistoryRetention } from "@deepfs/core";
import type { LocalHistoryOptions } from "./options.js";

function invalid(message: string): never {
  throw new DeepfsError("invalid_argument", `LocalBackend: ${message}`);
}

/** The real path of `host`, resolving its deepest existing ancestor when it does not exist yet. */
function realOf(host: string): string {
  const missing: string[] = [];
  let current = resolve(host);
  for (;;) {
    try {
      return join(realpathSync(current), ...missing);
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(host);
      missing.unshift(basename(current));
      current = parent;
    }
  }
}

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/**
 * The `history` option of a LocalBackend over the real root `rootDir`: null when off, else the
 * history directory and retention. The directory defaults to `<rootDir>.deepfs-history`, beside
 * the root; one inside the root (reachable through a path), or containing it, is refused, and so
 * is history in non-virtual mode, where every path of the machine is reachable.
 */
export function resolveHistoryOption(
  option: boolean | LocalHistoryOptions | undefined,
  rootDir: string,
  virtualMode: boolean,
): { dir: string; retention: HistoryRetention } | null {
  if (option === undefined || option === false) return null;
  if (option !== true && (typeof option !== "object" || option === null)) {
    invalid("history must be a boolean or { dir?, maxVersions?, maxAgeMs? }");
  }
  if (!virtualMode) invalid("history needs virtualMode (in non-virtual mode no directory is out of reach of paths)");
  const config: LocalHistoryOptions = option === true ? {} : option;
  const retention: HistoryRetention = {};
  if (config.maxVersions !== undefined) {
    if (!(Number.isInteger(config.maxVersions) && config.maxVersions >= 1))
      invalid("history.maxVersions must be an integer >= 1");
    retention.maxVersions = config.maxVersions;
  }
  if (config.maxAgeMs !== undefined) {
    if (!(typeof config.maxAgeMs === "number" && config.maxAgeMs >= 0))
      invalid("history.maxAgeMs must be a non-negative number of milliseconds");
    retention.maxAgeMs = config.maxAgeMs;
  }
  if (config.dir !== undefined && (typeof config.dir !== "string" || config.dir === "")) {
    invalid("history.dir must be a non-empty path");
  }
  const dir = realOf(config.dir ?? `${rootDir}.deepfs-history`);
  if (within(dir, rootDir)) {
    invalid(`the history directory ${dir} is inside rootDir ${rootDir}; it must be outside, where no path reaches it`);
  }
  if (within(rootDir, dir)) invalid(`rootDir ${rootDir} is inside the history directory ${dir}`);
  return { dir, retention };
}
