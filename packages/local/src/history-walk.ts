import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { isVisibleName } from "./walk.js";

/**
 * Every regular file below the root directory `base` (virtual path and host path), for the history's
 * catch-up at open. Symbolic links are neither followed nor reported, so nothing outside the root
 * is read; names no virtual path can address and the temp files of writes in flight are skipped.
 */
export async function* rootFiles(base: string, dir = "/"): AsyncGenerator<{ path: string; host: string }> {
  const host = dir === "/" ? base : `${base}${dir}`;
  let entries: Dirent[];
  try {
    entries = await readdir(host, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (!isVisibleName(entry.name)) continue;
    const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
    if (entry.isDirectory()) yield* rootFiles(base, path);
    else if (entry.isFile()) yield { path, host: `${base}${path}` };
  }
}
