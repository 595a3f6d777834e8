import { rmSync } from "node:fs";
import { expect } from "vitest";
import { changeTree, deepfs, readTree, tempDir, writeTree } from "./support.js";

const dirs: string[] = [];

/** Removes the temporary directories the round trips made. */
export function removeRoundTripDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function tree(count: number): { source: string; files: Map<string, Buffer>; back: string } {
  const source = tempDir("svc-src");
  const back = tempDir("svc-back");
  dirs.push(source, back);
  return { source, files: writeTree(source, count), back };
}

/** Runs the CLI: the binary by default; the memory: case runs it in this process (see tree.test.ts). */
export type Cli = (
  args: string[],
  env?: NodeJS.ProcessEnv,
) => Promise<{ status: number | null; text: string; stderr: string }>;

const spawned: Cli = (args, env = {}) => deepfs(args, { env });

const COUNT = 1000;

/**
 * Copies a tree of 1,000 files (text and binary, nested) into `url`, back out to disk, and checks
 * every byte; syncs twice (nothing the second time), then after a change copies only the changed
 * files, deletes the extra with --delete, and checks the copy byte for byte again; grep and rm there.
 */
export async function roundTrip(url: (path: string) => string, env: NodeJS.ProcessEnv = {}, cli: Cli = spawned) {
  const { source, files, back } = tree(COUNT);
  const into = await cli(["--json", "cp", source, url("/project/")], env);
  expect(into.status, into.stderr).toBe(0);
  expect(JSON.parse(into.text)).toMatchObject({ files: COUNT, failed: [] });
  const out = await cli(["--json", "cp", url("/project/"), back], env);
  expect(JSON.parse(out.text)).toMatchObject({ files: COUNT, failed: [] });
  expect(readTree(back)).toEqual(files);
  // The copy holds the same bytes: sync copies nothing (bytes compared), diff finds nothing.
  const again = await cli(["--json", "sync", source, url("/project/")], env);
  expect(again.status, again.stderr).toBe(0);
  expect(JSON.parse(again.text)).toMatchObject({ added: [], updated: [], deleted: [], unchanged: COUNT, bytes: 0 });
  const same = await cli(["diff", source, url("/project/")], env);
  expect([same.status, same.text]).toEqual([0, ""]);

  // After a change, sync copies only the changed files; --delete then removes the extra.
  const change = changeTree(source, files);
  const changed = await cli(["--json", "sync", source, url("/project/")], env);
  expect(changed.status, changed.stderr).toBe(0);
  const report = JSON.parse(changed.text);
  expect([...report.added].sort()).toEqual([...change.added].sort());
  expect([...report.updated].sort()).toEqual([...change.updated].sort());
  expect(report).toMatchObject({ deleted: [], unchanged: COUNT - 4, failed: [] });
  const extra = await cli(["diff", source, url("/project/")], env);
  expect([extra.status, extra.text]).toEqual([1, `A ${change.deleted[0]}\n`]);
  const pruned = await cli(["--json", "sync", "--delete", source, url("/project/")], env);
  expect(JSON.parse(pruned.text)).toMatchObject({
    added: [],
    updated: [],
    deleted: change.deleted,
    unchanged: COUNT + 1,
  });
  const back2 = tempDir("svc-back2");
  dirs.push(back2);
  expect(JSON.parse((await cli(["--json", "cp", url("/project/"), back2], env)).text)).toMatchObject({
    files: COUNT + 1,
  });
  expect(readTree(back2)).toEqual(files);

  const grep = await cli(["grep", "TODO 199", url("/project/")], env);
  expect(grep.status).toBe(0);
  expect(grep.text).toBe(
    `${url("/project/").replace(/\/$/, "").replace(/^.*#/, "")}/src/dir-3/file 199.md:2:TODO 199\n`,
  );
  const rm = await cli(["rm", "-r", url("/project/")], env);
  expect(rm.status).toBe(0);
  const gone = await cli(["--json", "glob", "**", url("/project/")], env);
  expect(JSON.parse(gone.text).files ?? []).toEqual([]);
}
