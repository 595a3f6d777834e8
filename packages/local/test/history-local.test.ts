// What is specific to the history of a LocalBackend on disk (the behaviour is the history rules'):
// where the history directory is, that it survives re-opening, what a crash between the steps of a
// change leaves and how the next open recovers, deduplication, and nothing written with history off.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

let parent: ReturnType<typeof tempRoot>;
let rootDir: string;
let historyDir: string;
const open: LocalBackend[] = [];

beforeEach(() => {
  parent = tempRoot("deepfs-history-local-");
  rootDir = join(parent.dir, "root");
  historyDir = `${rootDir}.deepfs-history`;
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  parent.remove();
});

function backend(options: LocalBackendOptions = {}): LocalBackend {
  const made = new LocalBackend({ rootDir, history: true, ...options });
  open.push(made);
  return made;
}

async function reopen(previous: LocalBackend, options: LocalBackendOptions = {}): Promise<LocalBackend> {
  await previous.close();
  return backend(options);
}

interface Line {
  s: number;
  p: string;
  o: string;
  e: string;
  h: string | null;
}

function logLines(dir = historyDir): Line[] {
  const text = readFileSync(join(dir, "log"), "utf8");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

function objectFiles(dir = historyDir): string[] {
  const objects = join(dir, "objects");
  return readdirSync(objects).flatMap((prefix) => readdirSync(join(objects, prefix)).map((name) => prefix + name));
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Every version in the log names an object that is there. */
function expectNoDanglingVersion(dir = historyDir): void {
  const objects = new Set(objectFiles(dir));
  for (const line of logLines(dir)) if (line.h !== null) expect(objects.has(line.h), `object of ${line.p}`).toBe(true);
}

async function ops(b: LocalBackend, path: string): Promise<string[]> {
  const got = await b.history(path);
  expect(got.error).toBeUndefined();
  return (got.versions ?? []).map((v) => v.op);
}

describe("the history directory", () => {
  it("is beside the root by default, outside it, and no path reaches it", async () => {
    const b = backend();
    expect(b.historyDir).toBe(historyDir);
    expect((await b.write("/a.txt", "one\n")).error).toBeUndefined();
    expect(existsSync(join(historyDir, "log"))).toBe(true);
    expect(readdirSync(rootDir)).toEqual(["a.txt"]);
    expect((await b.ls("/")).files?.map((f) => f.path)).toEqual(["/a.txt"]);
    // A link inside the root to the history directory leads outside: refused.
    symlinkSync(historyDir, join(rootDir, "h"));
    expect((await b.read("/h/log")).code).toBe("permission_denied");
    expect((await b.ls("/h")).error).toBeDefined();
  });

  it("may be configured, and is refused inside the root, around it, or in non-virtual mode", async () => {
    const elsewhere = join(parent.dir, "versions");
    const b = backend({ history: { dir: elsewhere } });
    expect(b.historyDir).toBe(elsewhere);
    await b.write("/a.txt", "x");
    expect(existsSync(join(elsewhere, "log"))).toBe(true);
    expect(existsSync(historyDir)).toBe(false);
    for (const dir of [join(rootDir, ".history"), rootDir, parent.dir, join(rootDir, "a", "..", "b")]) {
      expect(() => new LocalBackend({ rootDir, history: { dir } }), dir).toThrow(/inside/);
    }
    expect(() => new LocalBackend({ rootDir, history: true, virtualMode: false })).toThrow(/virtualMode/);
    expect(() => new LocalBackend({ rootDir, history: { maxVersions: 0 } })).toThrow(/maxVersions/);
    expect(() => new LocalBackend({ rootDir, history: { maxAgeMs: -1 } })).toThrow(/maxAgeMs/);
  });

  it("is shared by the backends of one process on the root, and released by the last close", async () => {
    const first = backend();
    const second = backend();
    await first.write("/a.txt", "one\n");
    await second.edit("/a.txt", "one", "two");
    expect(await ops(first, "/a.txt")).toEqual(["edit", "write"]);
    expect(() => new LocalBackend({ rootDir, history: { maxVersions: 3 } })).toThrow(/another maxVersions/);
    const elsewhere = join(parent.dir, "other-root");
    expect(() => new LocalBackend({ rootDir: elsewhere, history: { dir: historyDir } })).toThrow(/already keeps/);
    await second.close();
    expect((await second.write("/a.txt", "x\n")).code).toBe("backend_unavailable");
    expect((await first.write("/a.txt", "three\n")).error).toBeUndefined();
    expect(existsSync(join(historyDir, "lock"))).toBe(true);
    await first.close();
    expect(existsSync(join(historyDir, "lock"))).toBe(false);
    // History off on the same root is not concerned.
    expect(() => new LocalBackend({ rootDir })).not.toThrow();
  });

  it("is refused while another live process holds it; a lock left by a dead one is taken over", async () => {
    mkdirSync(historyDir, { recursive: true });
    writeFileSync(join(historyDir, "lock"), String(process.ppid));
    expect(() => new LocalBackend({ rootDir, history: true })).toThrow(new RegExp(`in use by process ${process.ppid}`));
    const gone = spawnSync(process.execPath, ["-e", ""]).pid as number;
    writeFileSync(join(historyDir, "lock"), String(gone));
    const b = backend();
    expect((await b.write("/a.txt", "x")).error).toBeUndefined();
    expect(readFileSync(join(historyDir, "lock"), "utf8")).toMatch(new RegExp(`^${process.pid} `));
    await b.close();
    // A lock with this process's pid and no history open here: left by an earlier process with that pid.
    writeFileSync(join(historyDir, "lock"), `${process.pid} earlier`);
    const again = backend();
    expect(await ops(again, "/a.txt")).toEqual(["write"]);
  });

  it("a closed backend changes no file: its history no longer records", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    await b.close();
    expect((await b.write("/a.txt", "two\n")).code).toBe("backend_unavailable");
    expect((await b.delete("/a.txt")).code).toBe("backend_unavailable");
    expect(readFileSync(join(rootDir, "a.txt"), "utf8")).toBe("one\n");
    expect(existsSync(join(historyDir, "lock"))).toBe(false);
  });

  it("with history off, nothing is written outside the root", async () => {
    const b = new LocalBackend({ rootDir });
    await b.write("/a/b.txt", "one\n");
    await b.edit("/a/b.txt", "one", "two");
    await b.uploadFiles([["/c.bin", new Uint8Array([1, 2, 3])]]);
    await b.delete("/a");
    expect(readdirSync(parent.dir)).toEqual(["root"]);
    expect((await b.history("/c.bin")).code).toBe("unsupported");
    expect((await b.snapshot()).code).toBe("unsupported");
  });
});

describe("versions on disk", () => {
  it("survive re-opening the backend: versions, contents and snapshot ids", async () => {
    const b = backend();
    await b.write("/doc.md", "first\n");
    const snap = (await b.snapshot()).snapshot as string;
    await b.edit("/doc.md", "first", "second");
    await b.write("/new.txt", "new\n");
    const again = await reopen(b);
    expect(await ops(again, "/doc.md")).toEqual(["edit", "write"]);
    const [, first] = (await again.history("/doc.md")).versions ?? [];
    expect((await again.readVersion("/doc.md", first?.version as string)).data?.content).toBe("first\n");
    const changes = await again.changesSince(snap);
    expect(changes.changes?.map((c) => `${c.change} ${c.path}`)).toEqual(["modified /doc.md", "added /new.txt"]);
    // Numbering goes on after the versions already there.
    await again.write("/doc.md", "third\n");
    const versions = (await again.history("/doc.md")).versions ?? [];
    expect(new Set(versions.map((v) => v.version)).size).toBe(3);
  });

  it("files already under the root are first versions when history is turned on", async () => {
    mkdirSync(join(rootDir, "src"), { recursive: true });
    writeFileSync(join(rootDir, "src", "a.ts"), "export {};\n");
    writeFileSync(join(rootDir, "b.bin"), new Uint8Array([0, 1, 2]));
    const b = backend();
    const [a] = (await b.history("/src/a.ts")).versions ?? [];
    expect(a).toMatchObject({ op: "write", etag: (await b.read("/src/a.ts")).etag, size: 11 });
    expect(await ops(b, "/b.bin")).toEqual(["write"]);
    // Changes made while no backend kept history are caught up at the next open.
    const again = await reopen(b, { history: false });
    await again.write("/src/a.ts", "export const x = 1;\n");
    await again.delete("/b.bin");
    const third = await reopen(again);
    expect(await ops(third, "/src/a.ts")).toEqual(["write", "write"]);
    expect(await ops(third, "/b.bin")).toEqual(["delete", "write"]);
  });

  it("at open, a file only touched is no new version, a large one is streamed into its object", async () => {
    mkdirSync(rootDir, { recursive: true });
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 7);
    writeFileSync(join(rootDir, "big.bin"), big);
    const b = backend();
    await b.write("/a.txt", "same\n");
    const [seeded] = (await b.history("/big.bin")).versions ?? [];
    expect(seeded?.size).toBe(big.byteLength);
    const again = await reopen(b);
    await again.close();
    utimesSync(join(rootDir, "a.txt"), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const third = backend();
    expect(await ops(third, "/a.txt")).toEqual(["write"]);
    expect(await ops(third, "/big.bin")).toEqual(["write"]);
    const read = await third.readVersion("/big.bin", seeded?.version as string);
    expect(Buffer.compare(Buffer.from(read.data?.content as Uint8Array), big)).toBe(0);
    expect(objectFiles()).toContain(createHash("sha256").update(big).digest("hex"));
  });

  it("stores equal contents once", async () => {
    const b = backend();
    for (const path of ["/a.txt", "/b.txt", "/c/d.txt"]) await b.write(path, "same\n");
    await b.write("/a.txt", "other\n");
    await b.write("/a.txt", "same\n");
    expect(objectFiles().sort()).toEqual([sha256("other\n"), sha256("same\n")].sort());
    expect(logLines()).toHaveLength(5);
  });

  it("a log grown far past what retention keeps is rewritten while the backend runs", async () => {
    const b = backend({ history: { maxVersions: 1 } });
    for (let i = 0; i < 1100; i++) await b.write("/f.txt", `v${i}\n`);
    expect(logLines().length).toBeLessThan(100);
    expect(await ops(b, "/f.txt")).toEqual(["write"]);
    const again = await reopen(b, { history: { maxVersions: 1 } });
    const [only] = (await again.history("/f.txt")).versions ?? [];
    expect((await again.readVersion("/f.txt", only?.version as string)).data?.content).toBe("v1099\n");
    expect(objectFiles()).toEqual([sha256("v1099\n")]);
  });

  it("a snapshot that needs a version retention dropped answers history_pruned, also after re-opening", async () => {
    const retention = { history: { maxAgeMs: 50 } };
    const b = backend(retention);
    await b.write("/a.txt", "old\n");
    const snap = (await b.snapshot()).snapshot as string;
    await new Promise((resolve) => setTimeout(resolve, 80));
    await b.write("/a.txt", "new\n");
    expect(await ops(b, "/a.txt")).toEqual(["write"]);
    expect((await b.changesSince(snap)).code).toBe("unsupported");
    const again = await reopen(b, retention);
    expect(await ops(again, "/a.txt")).toEqual(["write"]);
    const changes = await again.changesSince(snap);
    expect(changes.code).toBe("unsupported");
    expect(changes.error).toMatch(/\/a\.txt/);
    expect(logLines()).toHaveLength(1);
    // A snapshot id of another history is refused.
    expect((await again.changesSince(snap.replace(/^[^.]+/, "other"))).code).toBe("invalid_argument");
  });

  it("retention drops versions from the log and their objects at the next open", async () => {
    const b = backend({ history: { maxVersions: 2 } });
    for (let i = 0; i < 6; i++) await b.write("/f.txt", `v${i}\n`);
    expect((await b.history("/f.txt")).versions).toHaveLength(2);
    const again = await reopen(b, { history: { maxVersions: 2 } });
    const [newest, older] = (await again.history("/f.txt")).versions ?? [];
    expect(logLines()).toHaveLength(2);
    expect(objectFiles().sort()).toEqual([sha256("v4\n"), sha256("v5\n")].sort());
    expect((await again.readVersion("/f.txt", older?.version as string)).data?.content).toBe("v4\n");
    expect(newest?.etag).toBe((await again.read("/f.txt")).etag);
  });
});

describe("a crash between the steps of a change", () => {
  it("after the object, before the file changed: the object is removed at the next open, no version", async () => {
    const b = backend();
    await b.write("/a.txt", "kept\n");
    await b.close();
    // What step 1 of an interrupted write leaves: an object (and a temp file) nothing names.
    const orphan = sha256("never acknowledged\n");
    mkdirSync(join(historyDir, "objects", orphan.slice(0, 2)), { recursive: true });
    writeFileSync(join(historyDir, "objects", orphan.slice(0, 2), orphan.slice(2)), "never acknowledged\n");
    writeFileSync(join(historyDir, "objects", orphan.slice(0, 2), ".tmp-x"), "partial");
    const again = backend();
    expect(await ops(again, "/a.txt")).toEqual(["write"]);
    expect(objectFiles()).toEqual([sha256("kept\n")]);
  });

  it("after the file changed, before the version: the next open records it once", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    await b.write("/gone.txt", "bye\n");
    await b.close();
    // What steps 1 and 2 leave: the object and the changed file (and a deleted one), no record.
    const two = sha256("two\n");
    mkdirSync(join(historyDir, "objects", two.slice(0, 2)), { recursive: true });
    writeFileSync(join(historyDir, "objects", two.slice(0, 2), two.slice(2)), "two\n");
    writeFileSync(join(rootDir, "a.txt"), "two\n");
    rmSync(join(rootDir, "gone.txt"));
    const again = backend();
    const versions = (await again.history("/a.txt")).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["write", "write"]);
    expect(versions[0]?.etag).toBe((await again.read("/a.txt")).etag);
    expect((await again.readVersion("/a.txt", versions[0]?.version as string)).data?.content).toBe("two\n");
    expect(await ops(again, "/gone.txt")).toEqual(["delete", "write"]);
    expectNoDanglingVersion();
    // Once: opening again records nothing more.
    const third = await reopen(again);
    expect(await ops(third, "/a.txt")).toEqual(["write", "write"]);
    expect(logLines()).toHaveLength(4);
  });

  it("in the middle of an append: the partial record is cut off and the change caught up", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    await b.close();
    writeFileSync(join(rootDir, "a.txt"), "two\n");
    const two = sha256("two\n");
    mkdirSync(join(historyDir, "objects", two.slice(0, 2)), { recursive: true });
    writeFileSync(join(historyDir, "objects", two.slice(0, 2), two.slice(2)), "two\n");
    appendFileSync(join(historyDir, "log"), `{"s":2,"p":"/a.txt","o":"write","e":"x`);
    const again = backend();
    expect(await ops(again, "/a.txt")).toEqual(["write", "write"]);
    const lines = logLines();
    expect(lines.map((l) => l.s)).toEqual([1, 2]);
    expect(readFileSync(join(historyDir, "log"), "utf8").endsWith("\n")).toBe(true);
    expectNoDanglingVersion();
  });

  it("an append that dies half-way (the process's view): unacknowledged, nothing more changed, recovered at open", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    // A test hook in place of a crash: the append writes half a record, then fails.
    type Appender = { append: (r: unknown[]) => Promise<void> };
    const files = (b as unknown as { driver: { history: { shared: { files: Appender } } } }).driver.history.shared
      .files;
    files.append = async () => {
      appendFileSync(join(historyDir, "log"), '{"s":2,"p":"/a.txt","o":"wr');
      throw new Error("disk gone");
    };
    const failed = await b.write("/a.txt", "two\n");
    expect(failed.code).toBe("backend_unavailable");
    expect(failed.error).not.toContain("two");
    // The change itself landed (step 2), unacknowledged; the history now refuses every change.
    expect(readFileSync(join(rootDir, "a.txt"), "utf8")).toBe("two\n");
    expect((await b.write("/b.txt", "b\n")).code).toBe("backend_unavailable");
    expect(existsSync(join(rootDir, "b.txt"))).toBe(false);
    const again = await reopen(b);
    const versions = (await again.history("/a.txt")).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["write", "write"]);
    expect((await again.readVersion("/a.txt", versions[0]?.version as string)).data?.content).toBe("two\n");
    expectNoDanglingVersion();
  });

  it("a damaged record before the last is refused, not guessed at", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    await b.write("/a.txt", "two\n");
    await b.close();
    const log = join(historyDir, "log");
    const [first, second] = readFileSync(log, "utf8").split("\n");
    writeFileSync(log, `${first?.slice(0, 10)}\n${second}\n`);
    const again = backend();
    const got = await again.history("/a.txt");
    expect(got.code).toBe("backend_unavailable");
    expect(got.error).toContain("the log is damaged");
    expect(got.error).not.toContain(parent.dir);
    expect((await again.write("/a.txt", "three\n")).error).toBeDefined();
    expect(readFileSync(join(rootDir, "a.txt"), "utf8")).toBe("two\n");
  });

  it("a history that cannot be written answers by errno code, naming no host path", async () => {
    const b = backend();
    await b.write("/a.txt", "one\n");
    // Disk trouble, as the agent cannot cause it: the objects directory is a file now.
    rmSync(join(historyDir, "objects"), { recursive: true });
    writeFileSync(join(historyDir, "objects"), "");
    const failed = await b.write("/b.txt", "two\n");
    expect(failed.code).toBe("backend_unavailable");
    expect(failed.error).toContain("ENOTDIR");
    expect(failed.error).toContain("/b.txt");
    // Neither the root's nor the history directory's host path (Node's message holds both).
    expect(failed.error).not.toContain(parent.dir);
    expect(failed.error).not.toContain("deepfs-history");
  });

  it("concurrent changes of many files are each one version, in one log", async () => {
    const b = backend();
    const paths = Array.from({ length: 50 }, (_, i) => `/many/f${i}.txt`);
    await Promise.all(paths.map((p, i) => b.write(p, `content ${i}\n`)));
    await Promise.all(paths.map((p) => b.edit(p, "content", "changed")));
    await b.delete("/many");
    const again = await reopen(b);
    for (const p of paths) expect(await ops(again, p)).toEqual(["delete", "edit", "write"]);
    const seqs = logLines().map((l) => l.s);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(150);
    expectNoDanglingVersion();
  });
});
