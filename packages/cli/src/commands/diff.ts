import { diffContents } from "@deepfs/core";
import { type Output, writeAll } from "../output.js";
import type { Session, Target } from "../session.js";
import { type CompareOptions, compareTrees, pathIn } from "./trees.js";

/** Options of `deepfs diff`. */
export interface DiffOptions extends CompareOptions {
  /** Print a unified diff of every differing file. */
  unified?: boolean;
}

type Status = "A" | "M" | "D";

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes as text when they are valid UTF-8, else the bytes (shown as a binary change). */
function decoded(bytes: Uint8Array | null | undefined): string | Uint8Array | null {
  if (!bytes) return null;
  try {
    return UTF8.decode(bytes);
  } catch {
    return bytes;
  }
}

async function contents(target: Target, rels: string[]): Promise<Map<string, Uint8Array | null>> {
  if (rels.length === 0) return new Map();
  const entries = await target.backend.downloadFiles(rels.map((rel) => pathIn(target, rel)));
  return new Map(rels.map((rel, index) => [rel, entries[index]?.content ?? null]));
}

/** The patch of each entry, read in batches from both sides (a binary change is one summary line). */
async function patches(
  source: Target,
  target: Target,
  entries: Array<{ status: Status; rel: string }>,
  batchSize: number,
): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < entries.length; i += batchSize) {
    const batch = entries.slice(i, i + batchSize);
    const [before, after] = await Promise.all([
      contents(
        source,
        batch.filter((e) => e.status !== "A").map((e) => e.rel),
      ),
      contents(
        target,
        batch.filter((e) => e.status !== "D").map((e) => e.rel),
      ),
    ]);
    for (const { rel } of batch) {
      const patch = diffContents(`/${rel}`, decoded(before.get(rel)), decoded(after.get(rel)));
      out.push(patch.startsWith("binary") ? `Binary file /${rel}: ${patch}\n` : patch);
    }
  }
  return out;
}

/**
 * `deepfs diff SRC DST`: how the tree DST differs from the tree SRC, as `diff old new` reads: `A`
 * only in DST (added), `M` in both with different bytes, `D` only in SRC (deleted). Exit status 0
 * when the trees hold the same files, 1 when they differ, 2 on error.
 */
export async function diff(
  session: Session,
  out: Output,
  from: string,
  to: string,
  options: DiffOptions,
): Promise<number> {
  const source = await session.target(from);
  const target = await session.target(to);
  const comparison = await compareTrees(source, target, options);
  const entries = [
    ...comparison.onlyTarget.map((rel) => ({ status: "A" as const, rel })),
    ...comparison.changed.map((rel) => ({ status: "M" as const, rel })),
    ...comparison.onlySource.map((rel) => ({ status: "D" as const, rel })),
  ].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const patch = options.unified
    ? (await patches(source, target, entries, options.batchSize ?? 64)).join("")
    : undefined;
  if (!out.json) {
    for (const f of comparison.failed) {
      await writeAll(out.streams.stderr, `deepfs: error[${f.code}] ${f.path}: ${f.error.replace(/\s+/g, " ")}\n`);
    }
  }
  const document = {
    added: comparison.onlyTarget,
    changed: comparison.changed,
    deleted: comparison.onlySource,
    unchanged: comparison.unchanged.length,
    failed: comparison.failed,
    ...(patch === undefined ? {} : { patch }),
  };
  if (out.json) await out.document(document);
  else if (patch !== undefined) {
    if (patch !== "") await writeAll(out.streams.stdout, patch);
  } else await out.print(document, () => entries.map((e) => `${e.status} ${e.rel}`));
  if (comparison.failed.length > 0) return 2;
  return entries.length > 0 ? 1 : 0;
}
