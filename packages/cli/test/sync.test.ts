import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../src/program.js";
import { binaryBytes, deepfs, readTree, tempDir, writeTree } from "./support.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dir(label: string): string {
  const path = tempDir(label);
  dirs.push(path);
  return path;
}

describe("deepfs sync", () => {
  it("copies only what differs, nothing the second time, and deletes with --delete", async () => {
    const source = dir("sync-src");
    const target = dir("sync-dst");
    const files = writeTree(source, 60);
    const first = await deepfs(["--json", "sync", source, target]);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const report = JSON.parse(first.text);
    expect(report.added).toHaveLength(60);
    expect(report).toMatchObject({ updated: [], deleted: [], unchanged: 0, failed: [] });
    expect(readTree(target)).toEqual(files);

    const second = JSON.parse((await deepfs(["--json", "sync", source, target])).text);
    expect(second).toMatchObject({ added: [], updated: [], deleted: [], unchanged: 60, bytes: 0 });

    // Same size, different bytes; a new file; a file only in the target.
    writeFileSync(join(source, "src/dir-1/file 1.md"), "line one of 1\nTODO X\n");
    writeFileSync(join(source, "new.txt"), "new\n");
    writeFileSync(join(target, "stale.txt"), "stale\n");
    const plan = await deepfs(["sync", "--dry-run", "--delete", source, target]);
    expect(plan.status).toBe(0);
    expect(plan.text).toBe(
      "+ new.txt\n~ src/dir-1/file 1.md\n- stale.txt\nwould copy 2 files (25 B) and delete 1; 59 unchanged\n",
    );
    expect(readFileSync(join(target, "stale.txt"), "utf8")).toBe("stale\n");
    const kept = JSON.parse((await deepfs(["--json", "sync", source, target])).text);
    expect(kept).toMatchObject({ added: ["new.txt"], updated: ["src/dir-1/file 1.md"], deleted: [] });
    expect(readFileSync(join(target, "stale.txt"), "utf8")).toBe("stale\n");
    const pruned = await deepfs(["sync", "--delete", source, target]);
    expect(pruned.text).toMatch(/^synced: 0 added, 0 updated, 1 deleted, 61 unchanged; copied 0 B in \d/);
    expect(readTree(target)).toEqual(readTree(source));
  });

  it("syncs into another backend and refuses an empty source", async () => {
    const source = dir("sync-mem");
    writeTree(source, 10);
    const into = JSON.parse((await deepfs(["--json", "sync", source, "memory:/copy/"])).text);
    expect(into.added).toHaveLength(10);
    const empty = await deepfs(["sync", "--delete", join(source, "nothing"), source]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^deepfs: error\[file_not_found\] .*nothing: .*\(hint: .+\)\n$/);
    expect(readTree(source).size).toBe(10);
  });
});

describe("deepfs diff", () => {
  it("lists added, changed and deleted files, with unified diffs and exit status 1", async () => {
    const left = dir("diff-a");
    const right = dir("diff-b");
    for (const root of [left, right]) {
      mkdirSync(join(root, "src"));
      writeFileSync(join(root, "same.txt"), "same\n");
    }
    writeFileSync(join(left, "src/app.py"), "a = 1\nb = 2\n");
    writeFileSync(join(right, "src/app.py"), "a = 1\nb = 3\n");
    writeFileSync(join(left, "old.md"), "old\n");
    writeFileSync(join(right, "logo.png"), binaryBytes(100));

    const names = await deepfs(["diff", left, right]);
    expect(names.status).toBe(1);
    expect(names.text).toBe("A logo.png\nD old.md\nM src/app.py\n");
    const json = await deepfs(["--json", "diff", left, right]);
    expect(JSON.parse(json.text)).toEqual({
      added: ["logo.png"],
      changed: ["src/app.py"],
      deleted: ["old.md"],
      unchanged: 1,
      failed: [],
    });
    const unified = await deepfs(["diff", "--unified", left, right]);
    expect(unified.status).toBe(1);
    expect(unified.text).toContain("Binary file /logo.png: binary, 0 → 100 bytes\n");
    expect(unified.text).toContain("--- a/old.md\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-old\n");
    expect(unified.text).toContain("--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n");
    const same = await deepfs(["diff", left, left]);
    expect(same.status).toBe(0);
    expect(same.text).toBe("");
  });
});

/** A writable that says it is a terminal, and keeps what it got. */
function terminal(isTTY: boolean): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY, columns: 100, text: () => chunks.join("") });
}

describe("the progress bar", () => {
  it("shows files, bytes, rate and ETA on a terminal, and nothing when stdout is not one", async () => {
    const source = dir("progress");
    writeTree(source, 40);
    const target = dir("progress-dst");
    const tty = { stdin: new PassThrough(), stdout: terminal(true), stderr: terminal(true) };
    expect(await run(["cp", source, `${target}/a`, "--batch-size", "8"], tty)).toBe(0);
    expect(tty.stderr.text()).toMatch(/100% \| 40\/40 files \| [\d.]+ KiB\/[\d.]+ KiB \| [\d.]+ \S+\/s \| ETA \S+/);
    expect(tty.stdout.text()).toMatch(/^copied 40 files/);
    const piped = { stdin: new PassThrough(), stdout: terminal(false), stderr: terminal(true) };
    expect(await run(["sync", source, `${target}/b`], piped)).toBe(0);
    expect(piped.stderr.text()).toBe("");
    const quiet = { stdin: new PassThrough(), stdout: terminal(true), stderr: terminal(true) };
    expect(await run(["sync", "--no-progress", source, `${target}/c`], quiet)).toBe(0);
    expect(quiet.stderr.text()).toBe("");
  });
});
