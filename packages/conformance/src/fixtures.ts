import type { MaybePromise } from "@deepfs/core";
import { comparePaths, contentFromBytes, encodeUtf8 } from "@deepfs/core";
import { expect } from "vitest";
import type { RuleEnv } from "./context.js";

/** A tree to seed: path (relative to the root, starting with `/`) → text or bytes. */
export type Tree = Record<string, string | Uint8Array>;

/** The bytes a tree entry stands for. */
export function bytesOf(content: string | Uint8Array): Uint8Array {
  return typeof content === "string" ? encodeUtf8(content) : content;
}

/** Uploads a tree under the root in batches, asserting that every entry was stored. */
export async function seed(env: RuleEnv, tree: Tree, batchSize = 200): Promise<void> {
  const entries = Object.entries(tree).map(
    ([path, content]) => [env.at(path), bytesOf(content)] as [string, Uint8Array],
  );
  for (let i = 0; i < entries.length; i += batchSize) {
    const batch = entries.slice(i, i + batchSize);
    const responses = await env.backend.uploadFiles(batch);
    const failed = responses.filter((r) => r.error !== null);
    expect(failed, "seeding the tree must succeed").toEqual([]);
    expect(responses).toHaveLength(batch.length);
  }
}

/** Milliseconds `fn` takes, with its result. */
export async function timed<T>(fn: () => MaybePromise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

/** Absolute paths of a tree under the root, sorted as backends sort. */
export function treePaths(env: RuleEnv, tree: Tree): string[] {
  return Object.keys(tree)
    .map((p) => env.at(p))
    .sort(comparePaths);
}

/** The text files of a tree as grep sees them (absolute path and text); binary ones left out. */
export function treeTexts(env: RuleEnv, tree: Tree): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const [path, content] of Object.entries(tree)) {
    const stored = contentFromBytes(env.at(path), bytesOf(content));
    if (typeof stored === "string") out.push({ path: env.at(path), text: stored });
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so that random data is the same on every run. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` pseudo-random bytes from a seed (fast enough for tens of megabytes). */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Lines `prefix1 .. prefixN`, each ending with `\n`. */
export function numberedLines(count: number, prefix = "line"): string {
  let text = "";
  for (let i = 1; i <= count; i++) text += `${prefix}${i}\n`;
  return text;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
