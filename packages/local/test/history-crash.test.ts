// A real crash: a child process writing and deleting with history on is killed (SIGKILL) at a
// random moment, three times over on one root. After each, a backend opened on the root finds every
// acknowledged change as exactly one version, every file's content as its newest version, and no
// version whose content is missing.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const parent = tempRoot("deepfs-history-crash-");
const rootDir = join(parent.dir, "root");
afterAll(() => parent.remove());

/** Runs the writer until it has printed at least `acks` changes, then kills it; answers its lines. */
function runAndKill(acks: number, extraMs: number): Promise<string[]> {
  const child = spawn(
    process.execPath,
    ["--import", join(here, "crash", "register.mjs"), join(here, "crash", "writer.ts"), rootDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  let killing = false;
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (!killing && out.split("\n").length > acks) {
        killing = true;
        setTimeout(() => child.kill("SIGKILL"), extraMs);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`the writer stopped on its own: ${err.slice(0, 2000)}`));
      // The last line may be cut short by the kill: only whole lines count.
      else resolve(out.split("\n").slice(0, -1));
    });
  });
}

it("every acknowledged change survives a SIGKILL as exactly one version, none pointing nowhere", async () => {
  const acked: string[] = [];
  for (const [round, extraMs] of [5, 37, 101].entries()) {
    acked.push(...(await runAndKill(100 + 50 * round, extraMs)));
    const backend = new LocalBackend({ rootDir, history: true });
    try {
      const paths = new Set(acked.map((line) => line.split(" ")[1] as string));
      for (const path of paths) {
        const versions = (await backend.history(path)).versions ?? [];
        const etags = versions.map((v) => v.etag);
        for (const line of acked.filter((l) => l.split(" ")[1] === path)) {
          const [kind, , etag] = line.split(" ");
          if (kind === "W")
            expect(
              etags.filter((e) => e === etag),
              `${line} (round ${round})`,
            ).toHaveLength(1);
        }
        const deletes = acked.filter((l) => l === `D ${path}`).length;
        expect(versions.filter((v) => v.op === "delete").length).toBeGreaterThanOrEqual(deletes);
        const now = await backend.readRaw(path);
        expect(versions[0]?.etag, `the newest version of ${path}`).toBe(now.error === undefined ? now.etag : "");
        for (const v of versions.filter((x) => x.op !== "delete")) {
          expect((await backend.readVersion(path, v.version)).error).toBeUndefined();
        }
      }
      const historyDir = `${rootDir}.deepfs-history`;
      for (const line of readFileSync(join(historyDir, "log"), "utf8").split("\n").filter(Boolean)) {
        const { h } = JSON.parse(line) as { h: string | null };
        if (h !== null) expect(existsSync(join(historyDir, "objects", h.slice(0, 2), h.slice(2)))).toBe(true);
      }
    } finally {
      await backend.close();
    }
  }
  expect(acked.length).toBeGreaterThan(300);
}, 120_000);
