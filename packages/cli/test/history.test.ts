import { rmSync } from "node:fs";
import { PassThrough, Writable } from "node:stream";
import { StateBackend } from "@deepfs/core";
import type { BackendSpec, OpenedBackend } from "@deepfs/url";
import { openSpec } from "@deepfs/url";
import { beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/program.js";
import { binaryBytes, deepfs, tempDir } from "./support.js";

/** One backend kept between in-process runs: `memory:?history=1` as a long-lived program would hold it. */
let store: StateBackend;
const kept = async (spec: BackendSpec): Promise<OpenedBackend> => {
  if (spec.scheme !== "memory") return openSpec(spec);
  const close = async () => {};
  return { backend: store, label: "memory:?history=1", close, [Symbol.asyncDispose]: close };
};

function sink(): Writable & { bytes: () => Buffer; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const bytes = () => Buffer.concat(chunks);
  return Object.assign(stream, { bytes, text: () => bytes().toString("utf8") });
}

/** Runs the CLI in this process over the kept backend. */
async function cli(args: string[], input: Uint8Array | string = "") {
  const streams = { stdin: new PassThrough(), stdout: sink(), stderr: sink() };
  streams.stdin.end(input);
  const status = await run(args, streams, { openSpec: kept });
  return { status, stdout: streams.stdout.bytes(), text: streams.stdout.text(), stderr: streams.stderr.text() };
}

beforeEach(() => {
  store = new StateBackend({ history: true });
});

describe("deepfs log, show and restore", () => {
  it("lists versions newest first, shows exact bytes of one, restores it as a new version", async () => {
    const binary = binaryBytes(3000);
    expect((await cli(["put", "memory:/notes/a.md"], "first\n")).status).toBe(0);
    expect((await cli(["edit", "memory:/notes/a.md", "--old", "first", "--new", "second"])).status).toBe(0);
    expect((await cli(["put", "memory:/notes/a.md"], binary)).status).toBe(0);

    const text = await cli(["log", "memory:/notes/a.md"]);
    expect(text.stderr).toBe("");
    expect(text.status).toBe(0);
    const lines = text.text.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^v\d+\s+upload\s+2\.9 KiB\s+\d{4}-\d\d-\d\dT/);
    expect(lines[1]).toMatch(/^v\d+\s+edit\s+7 B\s/);
    expect(lines[2]).toMatch(/^v\d+\s+upload\s+6 B\s/);

    const json = JSON.parse((await cli(["--json", "log", "memory:/notes/a.md", "--limit", "2"])).text);
    expect(json.path).toBe("/notes/a.md");
    expect(json.versions.map((v: { op: string }) => v.op)).toEqual(["upload", "edit"]);
    expect(json.versions[0]).toMatchObject({ size: 3000, etag: expect.any(String), modified_at: expect.any(String) });
    const [newest, edited, first] = (
      JSON.parse((await cli(["--json", "log", "memory:/notes/a.md"])).text) as {
        versions: Array<{ version: string; etag: string }>;
      }
    ).versions;

    const shown = await cli(["show", `memory:/notes/a.md@${first?.version}`]);
    expect(shown.status).toBe(0);
    expect(shown.text).toBe("first\n");
    expect((await cli(["show", "memory:/notes/a.md", `${newest?.version}`])).stdout.equals(binary)).toBe(true);
    const shownJson = JSON.parse((await cli(["--json", "show", `memory:/notes/a.md@${edited?.version}`])).text);
    expect(Buffer.from(shownJson.base64, "base64").toString()).toBe("second\n");
    expect(shownJson).toMatchObject({ path: "/notes/a.md", version: edited?.version, size: 7 });

    const stale = await cli(["restore", "memory:/notes/a.md", `${first?.version}`, "--if-match", `${first?.etag}`]);
    expect(stale.status).toBe(2);
    expect(stale.stderr).toMatch(/^deepfs: error\[conflict\] \/notes\/a\.md: /);
    const restored = await cli([
      "--json",
      "restore",
      "memory:/notes/a.md",
      `${first?.version}`,
      "--if-match",
      `${newest?.etag}`,
    ]);
    expect(restored.status).toBe(0);
    const document = JSON.parse(restored.text);
    expect(document).toMatchObject({ path: "/notes/a.md", restored: first?.version, etag: expect.any(String) });
    expect((await cli(["cat", "memory:/notes/a.md"])).text).toBe("first\n");
    const after = JSON.parse((await cli(["--json", "log", "memory:/notes/a.md", "-n", "1"])).text).versions[0];
    expect(after).toMatchObject({ op: "restore", version: document.version, etag: document.etag });
    const plain = await cli(["restore", "memory:/notes/a.md", `${edited?.version}`]);
    expect(plain.text).toMatch(/^restored \/notes\/a\.md to v\d+: new version v\d+, etag \S+\n$/);
  });

  it("answers unknown versions and malformed operands with one-line errors", async () => {
    await cli(["put", "memory:/a.md"], "x");
    const unknown = await cli(["show", "memory:/a.md@v999"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^deepfs: error\[file_not_found\] \/a\.md: .*\n$/);
    const noVersion = await cli(["show", "memory:/a.md"]);
    expect(noVersion.status).toBe(2);
    expect(noVersion.stderr).toContain("error[invalid_argument]");
    expect(noVersion.stderr).toContain("PATH@VERSION");
    const json = JSON.parse((await cli(["--json", "show", "memory:/a.md@v999"])).text);
    expect(json.error).toMatchObject({ code: "file_not_found", path: "/a.md" });
  });
});

describe("deepfs snapshot and changes", () => {
  it("prints a snapshot id, the files changed since, and restores them (--dry-run first)", async () => {
    await cli(["put", "memory:/keep.md"], "keep\n");
    await cli(["put", "memory:/edit.md"], "before\n");
    await cli(["put", "memory:/gone.md"], "gone\n");
    const taken = await cli(["snapshot", "memory:"]);
    expect(taken.status).toBe(0);
    const id = taken.text.trim();
    expect(id).not.toBe("");
    expect(JSON.parse((await cli(["--json", "snapshot", "memory:"])).text)).toEqual({ snapshot: expect.any(String) });

    await cli(["put", "memory:/edit.md"], "after\n");
    await cli(["rm", "memory:/gone.md"]);
    await cli(["put", "memory:/new/added.bin"], binaryBytes(100));

    const listed = await cli(["changes", "memory:", id]);
    expect(listed.status).toBe(0);
    expect(listed.text).toBe("M /edit.md\nD /gone.md\nA /new/added.bin\n");
    const json = JSON.parse((await cli(["--json", "changes", "memory:", id])).text);
    expect(json.changes).toEqual([
      { path: "/edit.md", change: "modified" },
      { path: "/gone.md", change: "deleted" },
      { path: "/new/added.bin", change: "added" },
    ]);

    const dry = await cli(["changes", "--restore", "--dry-run", "memory:", id]);
    expect(dry.status).toBe(0);
    expect(dry.text).toBe(`~ /edit.md\n+ /gone.md\n- /new/added.bin\nwould restore 3 files to snapshot ${id}\n`);
    expect((await cli(["cat", "memory:/edit.md"])).text).toBe("after\n");
    const done = JSON.parse((await cli(["--json", "changes", "--restore", "memory:", id])).text);
    expect(done).toMatchObject({ dryRun: false, failed: [] });
    expect(done.restored).toHaveLength(3);
    expect((await cli(["cat", "memory:/edit.md"])).text).toBe("before\n");
    expect((await cli(["cat", "memory:/gone.md"])).text).toBe("gone\n");
    expect((await cli(["cat", "memory:/new/added.bin"])).status).toBe(2);
    expect((await cli(["changes", "memory:", id])).text).toBe("");
  });

  it("refuses a path inside the backend, an unknown snapshot, and --dry-run without --restore", async () => {
    expect((await cli(["snapshot", "memory:/sub/"])).stderr).toContain("snapshots are of a whole backend");
    const unknown = await cli(["changes", "memory:", "no-such-snapshot"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("error[invalid_argument]");
    expect((await cli(["changes", "--dry-run", "memory:", "x"])).stderr).toContain("--dry-run goes with --restore");
  });
});

describe("the history commands, spawned as a user runs them", () => {
  it("exit 2 with code unsupported and a hint when the backend keeps no history", async () => {
    const dir = tempDir("history");
    for (const args of [
      ["log", "memory:/a.md"],
      ["snapshot", "memory:"],
      ["log", `${dir}/a.md`],
    ]) {
      const result = await deepfs(args);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^deepfs: error\[unsupported\] .*hint: history is off or this backend has none/);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    const json = await deepfs(["--json", "restore", "memory:/a.md", "v1"]);
    expect(json.status).toBe(2);
    expect(JSON.parse(json.text).error).toMatchObject({ code: "unsupported", path: "/a.md" });
  });

  it("file:///dir?history=1 keeps versions on disk: later runs see and restore them", async () => {
    const dir = tempDir("history");
    try {
      const at = (path: string) => `file://${dir}/root?history=1#${path}`;
      expect((await cli(["put", at("/a.md")], "first\n")).status).toBe(0);
      expect((await cli(["put", at("/a.md")], "second\n")).status).toBe(0);
      const log = JSON.parse((await cli(["--json", "log", at("/a.md")])).text) as {
        versions: Array<{ version: string }>;
      };
      expect(log.versions).toHaveLength(2);
      const oldest = log.versions[1]?.version as string;
      expect((await cli(["show", at("/a.md"), oldest])).text).toBe("first\n");
      expect((await cli(["restore", at("/a.md"), oldest])).status).toBe(0);
      expect((await cli(["cat", at("/a.md")])).text).toBe("first\n");
      expect((await cli(["log", `file://${dir}/root/a.md?history=1`])).stderr).toContain("#/path");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("memory:?history=1 keeps history for the length of one command; refused where a backend has none", async () => {
    const snapshot = await deepfs(["--json", "snapshot", "memory:?history=1"]);
    expect(snapshot.stderr).toBe("");
    expect(JSON.parse(snapshot.text)).toEqual({ snapshot: expect.any(String) });
    expect((await deepfs(["--json", "log", "memory:/a.md?history=1"])).text).toBe('{"path":"/a.md","versions":[]}\n');
    const refused = await deepfs(["log", "docker:/workspace/a.md?history=1"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("keep no version history");
  });

  it("--help of each has an example", async () => {
    for (const command of ["log", "show", "restore", "snapshot", "changes"]) {
      const help = await deepfs([command, "--help"]);
      expect(help.status).toBe(0);
      expect(help.text).toContain("Examples:");
      expect(help.text).toContain(`$ deepfs`);
    }
  });
});
