/**
 * A real-code corpus: the JavaScript and TypeScript sources (`.js`, `.mjs`, `.cjs`, `.ts`, not
 * `.d.ts`) of the repository's own installed dependencies under `node_modules/.pnpm`, in path
 * order. Deterministic from the lockfile; symbolic links are not followed (each package once).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CorpusFile } from "./corpus.js";

const SOURCE = /\.(?:[mc]?js|ts)$/;

/** `node_modules/.pnpm` of the repository this bench belongs to. */
export function dependencyStore(): string {
  return fileURLToPath(new URL("../../node_modules/.pnpm", import.meta.url));
}

/** The sources below `root`, paths relative to it (with a leading `/`), at most `limit` files. */
export async function realCodeCorpus(
  root = dependencyStore(),
  limit = Number.POSITIVE_INFINITY,
): Promise<CorpusFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => e.isFile() && SOURCE.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort()
    .slice(0, limit);
  const files: CorpusFile[] = [];
  for (const file of paths) {
    const content = await readFile(file, "utf8");
    files.push({ path: `/${path.relative(root, file).split(path.sep).join("/")}`, content });
  }
  return files;
}
