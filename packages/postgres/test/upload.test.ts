import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (content: Uint8Array | null | undefined) => new TextDecoder().decode(content ?? new Uint8Array());

describe.skipIf(skipReason)("batched uploads", () => {
  const statements: string[] = [];
  const sql = testClient({ debug: (_connection, query) => statements.push(query) });
  const table = randomName("upload");

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  const fresh = () => new PostgresBackend({ sql, table, namespace: randomName("ns") });

  it("writes 1,000 files with one multi-row INSERT per 200, and every byte arrives", async () => {
    const backend = fresh();
    await backend.initialize();
    const files = Array.from(
      { length: 1000 },
      (_, i) => [`/blobs/${i % 10}/b${i}.bin`, new Uint8Array([i % 256, 0, 255, i >> 8])] as [string, Uint8Array],
    );
    const from = statements.length;
    const results = await backend.uploadFiles(files);
    expect(results).toEqual(files.map(([path]) => ({ path, error: null })));
    expect(statements.slice(from).filter((q) => /^\s*INSERT INTO/.test(q))).toHaveLength(5);
    const downloaded = await backend.downloadFiles(files.map(([path]) => path));
    expect(downloaded.map((d) => d.content)).toEqual(files.map(([, content]) => content));
  });

  it("behaves as writing one file after another: a path given twice ends with its last content", async () => {
    const backend = fresh();
    expect((await backend.write("/dir/existing.txt", "old")).error).toBeUndefined();
    const results = await backend.uploadFiles([
      ["/twice.txt", bytes("first")],
      ["/a", bytes("file a")],
      ["/a/below.txt", bytes("below a file")],
      ["/b/c/d.txt", bytes("deep")],
      ["/b/c", bytes("over a directory")],
      ["/dir", bytes("over an existing directory")],
      ["/dir/existing.txt", bytes("new")],
      ["/dir/existing.txt/x", bytes("below an existing file")],
      ["/twice.txt", bytes("second")],
      ["/", bytes("root")],
    ]);
    expect(results.map((r) => r.code ?? null)).toEqual([
      null,
      null,
      "not_a_directory",
      null,
      "is_directory",
      "is_directory",
      null,
      "not_a_directory",
      null,
      "is_directory",
    ]);
    expect(results.map((r) => r.error)).toEqual([
      null,
      null,
      "invalid_path",
      null,
      "is_directory",
      "is_directory",
      null,
      "invalid_path",
      null,
      "is_directory",
    ]);
    expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual([
      "/a",
      "/b/c/d.txt",
      "/dir/existing.txt",
      "/twice.txt",
    ]);
    expect((await backend.read("/twice.txt")).content).toBe("second");
    expect((await backend.read("/dir/existing.txt")).content).toBe("new");
  });

  it("keeps input order across chunks: a later chunk overwrites an earlier one", async () => {
    const backend = fresh();
    const first = Array.from({ length: 250 }, (_, i) => [`/f${i}.txt`, bytes(`v1 ${i}`)] as [string, Uint8Array]);
    const second = first.map(([path], i) => [path, bytes(`v2 ${i}`)] as [string, Uint8Array]);
    const results = await backend.uploadFiles([...first, ...second, ["/f0.txt/x", bytes("no")]]);
    expect(results.filter((r) => r.error !== null).map((r) => r.path)).toEqual(["/f0.txt/x"]);
    const downloaded = await backend.downloadFiles(first.map(([path]) => path));
    expect(downloaded.map((d) => text(d.content))).toEqual(second.map(([, content]) => text(content)));
  });

  it("keeps created_at and changes the etag when an upload overwrites a file", async () => {
    const backend = fresh();
    const written = await backend.write("/keep.txt", "one");
    const before = await backend.readRaw("/keep.txt");
    expect((await backend.uploadFiles([["/keep.txt", bytes("two")]]))[0]?.error).toBeNull();
    const after = await backend.readRaw("/keep.txt");
    expect(after.data?.content).toBe("two");
    expect(after.data?.created_at).toBe(before.data?.created_at);
    expect(after.etag).not.toBe(written.etag);
  });

  it("never lets a file and a directory take one path when uploads and writes race", async () => {
    const namespace = randomName("ns");
    // Separate pools stand for separate processes.
    const first = ownedBackend({ table, namespace });
    const second = ownedBackend({ table, namespace });
    try {
      for (let round = 0; round < 10; round++) {
        const base = `/race${round}`;
        const [uploaded, written] = await Promise.all([
          first.uploadFiles([
            [`${base}/x/child.txt`, bytes("below")],
            [`/other${round}.txt`, bytes("beside")],
          ]),
          second.write(`${base}/x`, "a file"),
        ]);
        const codes = [uploaded[0]?.code ?? "ok", written.code ?? "ok"].sort();
        expect([
          ["is_directory", "ok"],
          ["not_a_directory", "ok"],
        ]).toContainEqual(codes);
        expect(uploaded[1]?.error).toBeNull();
      }
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
