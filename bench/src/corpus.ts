/**
 * Deterministic benchmark corpora. Every file is derived from the seed and its index alone, so a
 * corpus can be generated whole (small variants) or streamed one file at a time (the 200 MB
 * variant), and the same seed always yields byte-identical files.
 */

/** Literal present once in 1% of the files. Built from characters the filler text never produces. */
export const NEEDLE = "deepfs_NEEDLE_q7Zx";
/** Literal present once in 0.1% of the files (to check that bytes received follow the match count). */
export const RARE_NEEDLE = "deepfs_RARE_k3Vw";

/** Shape of a corpus. */
export interface CorpusSpec {
  seed: number;
  /** Total number of files. */
  files: number;
  /** Top-level directories; each holds `subDirs` directories. */
  topDirs: number;
  subDirs: number;
  /** Files directly under `/` (taken from `files`). */
  rootFiles: number;
  /** Approximate size of each file in bytes. */
  fileBytes: number;
}

export interface CorpusFile {
  path: string;
  content: string;
}

/** The standard corpus: 5,000 files of about 2 KB in 50 x 10 directories plus 50 root files. */
export function standardSpec(seed: number, files = 5_000): CorpusSpec {
  return { seed, files, topDirs: 50, subDirs: 10, rootFiles: Math.max(1, Math.floor(files / 100)), fileBytes: 2_048 };
}

/** A corpus of about `megabytes` MB in files of 10 KB, same directory layout, for memory measures. */
export function bulkSpec(seed: number, megabytes: number): CorpusSpec {
  const fileBytes = 10 * 1024;
  const files = Math.ceil((megabytes * 1024 * 1024) / fileBytes);
  return { seed, files, topDirs: 50, subDirs: 10, rootFiles: Math.floor(files / 100), fileBytes };
}

/** 32-bit PRNG (mulberry32): tiny, fast and identical on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const WORDS = (
  "agent backend buffer cache client config context cursor delta error event file filter glob graph " +
  "handler index input layer limit loader memory model module node offset option output parser path " +
  "prompt query queue reader record route schema search server session shard state store stream task " +
  "token tool value vector window worker writer"
).split(" ");
const TYPES = ["string", "number", "boolean", "Uint8Array", "Record<string, unknown>", "Promise<void>"];

/** True when file `index` carries {@link NEEDLE}: a bijection per block of 100, so exactly 1%. */
export function hasNeedle(index: number): boolean {
  return (index * 7919) % 100 === 13;
}

/** True when file `index` carries {@link RARE_NEEDLE} (exactly 0.1%). */
export function hasRareNeedle(index: number): boolean {
  return (index * 7919) % 1000 === 614;
}

/** How many files of `spec` carry each needle (each carries it on one line). */
export function expectedMatches(spec: CorpusSpec): { needle: number; rare: number } {
  let needle = 0;
  let rare = 0;
  for (let i = 0; i < spec.files; i++) {
    if (hasNeedle(i)) needle++;
    if (hasRareNeedle(i)) rare++;
  }
  return { needle, rare };
}

/** Path of file `index`: root files first, then round-robin over the leaf directories. */
export function corpusPath(spec: CorpusSpec, index: number): string {
  const ext = index % 5 < 3 ? "ts" : "md";
  const name = `f${String(index).padStart(5, "0")}.${ext}`;
  if (index < spec.rootFiles) return `/${name}`;
  const leaf = (index - spec.rootFiles) % (spec.topDirs * spec.subDirs);
  const top = Math.floor(leaf / spec.subDirs);
  const sub = leaf % spec.subDirs;
  return `/d${String(top).padStart(2, "0")}/s${sub}/${name}`;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function identifier(rand: () => number): string {
  const a = pick(rand, WORDS);
  const b = pick(rand, WORDS);
  return `${a}${b.charAt(0).toUpperCase()}${b.slice(1)}${Math.floor(rand() * 100)}`;
}

function tsLine(rand: () => number): string {
  switch (Math.floor(rand() * 5)) {
    case 0:
      return `export function ${identifier(rand)}(${pick(rand, WORDS)}: ${pick(rand, TYPES)}): ${pick(rand, TYPES)} {`;
    case 1:
      return `  const ${identifier(rand)} = await ${pick(rand, WORDS)}.${identifier(rand)}(${Math.floor(rand() * 1000)});`;
    case 2:
      return `  // ${pick(rand, WORDS)} ${pick(rand, WORDS)} ${pick(rand, WORDS)} before the ${pick(rand, WORDS)} ${pick(rand, WORDS)}`;
    case 3:
      return `  if (${pick(rand, WORDS)}.${pick(rand, WORDS)} > ${Math.floor(rand() * 100)}) return ${pick(rand, WORDS)};`;
    default:
      return "}";
  }
}

function mdLine(rand: () => number): string {
  if (rand() < 0.1) return `## ${pick(rand, WORDS)} ${pick(rand, WORDS)}`;
  const words: string[] = [];
  const count = 6 + Math.floor(rand() * 8);
  for (let i = 0; i < count; i++) words.push(pick(rand, WORDS));
  return `${words.join(" ")}.`;
}

/** Content of file `index` (about `spec.fileBytes` bytes, ASCII, ends with a newline). */
export function corpusContent(spec: CorpusSpec, index: number): string {
  const rand = prng((spec.seed * 1_000_003 + index) >>> 0);
  const isTs = index % 5 < 3;
  const lines: string[] = [];
  let size = 0;
  while (size < spec.fileBytes) {
    const line = isTs ? tsLine(rand) : mdLine(rand);
    lines.push(line);
    size += line.length + 1;
  }
  // Needles replace a line in the middle, so they are never on the first or last line.
  const middle = Math.floor(lines.length / 2);
  if (hasNeedle(index)) lines[middle] = isTs ? `  // ${NEEDLE}: marked line` : `Marked: ${NEEDLE} here.`;
  if (hasRareNeedle(index)) lines[middle + 1] = isTs ? `  // ${RARE_NEEDLE}` : `Rare: ${RARE_NEEDLE}.`;
  return `${lines.join("\n")}\n`;
}

/** The files of `spec`, generated one at a time (nothing is kept). */
export function* streamCorpus(spec: CorpusSpec): Generator<CorpusFile> {
  for (let i = 0; i < spec.files; i++) yield { path: corpusPath(spec, i), content: corpusContent(spec, i) };
}

/** The whole corpus in memory. */
export function generateCorpus(spec: CorpusSpec): CorpusFile[] {
  return [...streamCorpus(spec)];
}

/** Every directory that holds files, sorted: `/`, the top-level directories and the leaf directories. */
export function corpusDirectories(spec: CorpusSpec): { top: string[]; leaves: string[] } {
  const top: string[] = [];
  const leaves: string[] = [];
  for (let t = 0; t < spec.topDirs; t++) {
    const dir = `/d${String(t).padStart(2, "0")}`;
    top.push(dir);
    for (let s = 0; s < spec.subDirs; s++) leaves.push(`${dir}/s${s}`);
  }
  return { top, leaves };
}
