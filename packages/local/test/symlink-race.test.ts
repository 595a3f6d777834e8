import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { IO_MODES } from "./io-modes.js";
import { tempRoot } from "./temp-root.js";

/** How long each run races. */
const RACE_MS = 2500;

/**
 * A second process that swaps `root/d` between the real directory and a symlink to `outside` as fast
 * as it can until `deadline` (moving the directory aside, linking, unlinking, moving it back), then
 * leaves the real directory in place and prints how many swaps it made.
 */
const SWAPPER = `
const fs = require("node:fs");
const [root, outside, deadline] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const d = root + "/d", hold = root + "/d-hold";
let swaps = 0;
while (Date.now() < deadline) {
  fs.renameSync(d, hold);
  // A write may recreate "d" while it is away (creating missing parents, as it should): move that aside.
  try { fs.symlinkSync(outside, d); } catch {}
  try { fs.unlinkSync(d); } catch {}
  // A write can recreate "d" again between the two renames: retry (boundedly) until it is back.
  for (let tries = 0; ; tries++) {
    try { fs.renameSync(hold, d); break; } catch (error) {
      if (tries > 1000) throw error;
      try { fs.renameSync(d, root + "/made-" + swaps + "-" + tries); } catch {}
    }
  }
  swaps++;
}
process.stdout.write(String(swaps));
`;

function runSwapper(root: string, outside: string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", SWAPPER, root, outside, String(deadline)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`swapper exited ${code}`))));
  });
}

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesBelow(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

/** Tallies of one kind of call: how many were made, refused with an error, or answered. */
interface Tally {
  attempts: number;
  refused: number;
  succeeded: number;
}

describe.each(IO_MODES)("symlink swap race with $name", ({ options }) => {
  let root: ReturnType<typeof tempRoot>;
  let outside: ReturnType<typeof tempRoot>;

  beforeEach(() => {
    root = tempRoot("deepfs-race-");
    outside = tempRoot("deepfs-race-outside-");
    mkdirSync(join(root.dir, "d"));
    writeFileSync(join(root.dir, "d", "secret.txt"), "inside\n");
    writeFileSync(join(root.dir, "d", "w.txt"), "inside\n");
    writeFileSync(join(outside.dir, "secret.txt"), "OUTSIDE SECRET\n");
    writeFileSync(join(outside.dir, "w.txt"), "OUTSIDE ORIGINAL\n");
  });

  afterEach(() => {
    root.remove();
    outside.remove();
  });

  it(
    "never returns outside content nor writes outside while a parent is swapped for a link",
    async () => {
      const backend = new LocalBackend({ ...options, rootDir: root.dir, grepEngine: "builtin" });
      const reads: Tally = { attempts: 0, refused: 0, succeeded: 0 };
      const writes: Tally = { attempts: 0, refused: 0, succeeded: 0 };
      let outsideReads = 0;
      const deadline = Date.now() + RACE_MS;
      const swapper = runSwapper(root.dir, outside.dir, deadline);
      const tally = (into: Tally, result: { error?: string | null }) => {
        into.attempts++;
        if (result.error) into.refused++;
        else into.succeeded++;
      };
      for (let i = 0; Date.now() < deadline; i++) {
        const read = await backend.read("/d/secret.txt");
        tally(reads, read);
        if (String(read.content ?? "").includes("OUTSIDE")) outsideReads++;
        const raw = await backend.readRaw("/d/secret.txt");
        tally(reads, raw);
        if (String(raw.data?.content ?? "").includes("OUTSIDE")) outsideReads++;
        const [download] = await backend.downloadFiles(["/d/secret.txt"]);
        tally(reads, { error: download?.error });
        if (Buffer.from(download?.content ?? []).includes("OUTSIDE")) outsideReads++;
        const grep = await backend.grep("SECRET", "/d");
        tally(reads, grep);
        outsideReads += grep.matches?.length ?? 0;
        tally(writes, await backend.write("/d/w.txt", `inside ${i}\n`));
        tally(writes, await backend.write(`/d/new-${i}/deep/file.txt`, "inside\n"));
        tally(writes, await backend.edit("/d/w.txt", "inside", "inside"));
        const [upload] = await backend.uploadFiles([[`/d/up-${i}.bin`, new Uint8Array([1, 2, 3])]]);
        tally(writes, { error: upload?.error });
      }
      const swaps = await swapper;
      const writtenOutside = filesBelow(outside.dir).filter((name) => name !== "secret.txt" && name !== "w.txt");
      console.log(
        `symlink race (${options.syncIoMaxBytes === 0 ? "threadpool" : "blocking"}): ${swaps} swaps in ${RACE_MS} ms; ` +
          `reads ${JSON.stringify(reads)}, outside reads ${outsideReads}; ` +
          `writes ${JSON.stringify(writes)}, files written outside ${writtenOutside.length}`,
      );
      expect(swaps).toBeGreaterThan(100);
      expect(reads.refused).toBeGreaterThan(0);
      expect(reads.succeeded).toBeGreaterThan(0);
      expect(outsideReads).toBe(0);
      expect(writtenOutside).toEqual([]);
      expect(readFileSync(join(outside.dir, "w.txt"), "utf8")).toBe("OUTSIDE ORIGINAL\n");
      expect(readFileSync(join(outside.dir, "secret.txt"), "utf8")).toBe("OUTSIDE SECRET\n");
    },
    RACE_MS + 20_000,
  );
});
