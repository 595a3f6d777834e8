/** Writing a corpus to a host directory (for ripgrep and for the memory measure). */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { CorpusFile } from "./corpus.js";

/** Writes `files` below `root` with plain `fs` calls, one file at a time (works on a streamed corpus). */
export async function writeTree(root: string, files: Iterable<CorpusFile>): Promise<number> {
  const made = new Set<string>();
  let bytes = 0;
  for (const f of files) {
    const host = path.join(root, f.path);
    const dir = path.dirname(host);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    await writeFile(host, f.content);
    bytes += Buffer.byteLength(f.content);
  }
  return bytes;
}
