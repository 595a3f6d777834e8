import { DeepfsError } from "@deepfs/core";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { countingSocket, dropTable, pgUrl, randomName, skipReason } from "./support.js";

const MIB = 1024 * 1024;
/** Over the default limit (maxFileSizeMb 10). */
const BIG = 12 * MIB;
/** Far less than any of the big files: what a refusal or a skip may cost on the wire. */
const SMALL_TRAFFIC = 64 * 1024;

/** `size` bytes of 100-byte lines, each holding `needle`. */
function linesOf(size: number, needle = "needle"): Buffer {
  const line = `${needle} ${"x".repeat(99 - needle.length - 1)}\n`;
  return Buffer.from(line.repeat(Math.ceil(size / 100)).slice(0, size));
}

describe.skipIf(skipReason)("PostgresBackend size limit (maxFileSizeMb)", () => {
  const table = randomName("limits");
  let bytesReceived = 0;
  // A client that counts the bytes the server sends.
  const socketOption = countingSocket((n) => {
    bytesReceived += n;
  });
  const sql = postgres(pgUrl, { max: 2, onnotice: () => {}, ...socketOption });
  const backend = new PostgresBackend({ sql, table, namespace: "limits" });
  const log = linesOf(BIG);
  // Not UTF-8 (stored as bytes), and binary: neither is held as text.
  const broken = Buffer.concat([linesOf(BIG), Buffer.from([0xff])]);
  const pdf = Buffer.alloc(BIG, 7);

  /** Runs `call`; with the bytes the server sent meanwhile. */
  async function onTheWire<T>(call: () => Promise<T>): Promise<{ result: T; bytes: number }> {
    const before = bytesReceived;
    const result = await call();
    return { result, bytes: bytesReceived - before };
  }

  beforeAll(async () => {
    await backend.initialize();
    const uploaded = await backend.uploadFiles([
      ["/big/huge.log", log],
      ["/big/broken.txt", broken],
      ["/big/doc.pdf", pdf],
      ["/small/a.txt", Buffer.from("a needle here\n")],
    ]);
    expect(uploaded.map((r) => r.error)).toEqual([null, null, null, null]);
  }, 60_000);

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  it("answers too_large for read, readRaw and edit of a larger file, and its content never crosses the wire", async () => {
    for (const [label, call] of [
      ["read text", () => backend.read("/big/huge.log", 0, 1)],
      ["read text that is not UTF-8", () => backend.read("/big/broken.txt", 0, 1)],
      ["read binary", () => backend.read("/big/doc.pdf")],
      ["readRaw", () => backend.readRaw("/big/huge.log")],
      ["edit", () => backend.edit("/big/huge.log", "needle", "pin", true)],
    ] as const) {
      const { result, bytes } = await onTheWire(call);
      expect(result.code, label).toBe("too_large");
      expect(result.error, label).toMatch(/bytes, over the maxFileSizeMb limit of 10 MiB/);
      expect(bytes, label).toBeLessThan(SMALL_TRAFFIC);
    }
    // A download moves bytes, not model context: no limit.
    const downloads = await backend.downloadFiles(["/big/huge.log", "/big/broken.txt"]);
    expect(downloads.map((d) => d.error)).toEqual([null, null]);
    expect(Buffer.from(downloads[0]?.content ?? []).equals(log)).toBe(true);
    expect(Buffer.from(downloads[1]?.content ?? []).equals(broken)).toBe(true);
  });

  it("grep skips larger files in SQL, as every backend does: their texts never cross the wire", async () => {
    const expected = { matches: [{ path: "/small/a.txt", line: 1, text: "a needle here" }] };
    // Every way the SQL grep runs: one statement (no cap, no glob), paths then lines (a glob),
    // the first files in path order and then the index (a cap), and an empty pattern.
    for (const [label, call] of [
      ["no cap", () => backend.grep("needle")],
      ["glob", () => backend.grep("needle", "/", "*.{log,txt}")],
      ["cap", () => backend.grep("needle", "/", null, 1)],
      ["path", () => backend.grep("needle", "/big")],
    ] as const) {
      const { result, bytes } = await onTheWire(call);
      expect(result, label).toEqual(label === "path" ? { matches: [] } : expected);
      expect(bytes, label).toBeLessThan(SMALL_TRAFFIC);
    }
    const { result, bytes } = await onTheWire(() => backend.grep("", "/", null, 5));
    expect(result.matches?.map((m) => m.path)).toEqual(["/small/a.txt"]);
    expect(bytes).toBeLessThan(SMALL_TRAFFIC);
  });

  it("an empty pattern over a small file of many lines is split once in SQL, not once per line", async () => {
    // 20,000 lines (every other one empty) in 40 KB: small enough for its lines to be split in SQL.
    const text = "x\n\n".repeat(10_000);
    await backend.uploadFiles([["/lines/many.txt", Buffer.from(text)]]);
    const started = performance.now();
    const all = await backend.grep("", "/lines");
    expect(all.matches?.length).toBe(20_000);
    expect(all.matches?.[1]).toEqual({ path: "/lines/many.txt", line: 2, text: "" });
    expect(all.matches?.at(-1)).toEqual({ path: "/lines/many.txt", line: 20_000, text: "" });
    const capped = await backend.grep("", "/lines", null, 3);
    expect(capped.matches?.map((m) => m.line)).toEqual([1, 2, 3]);
    // Split once per line, this took over 30 s; a loose bound, far above the time it takes.
    expect(performance.now() - started).toBeLessThan(10_000);
  }, 60_000);

  it("takes a larger limit, and refuses one that is not a positive number", async () => {
    const roomy = new PostgresBackend({ sql, table, namespace: "limits", maxFileSizeMb: 16 });
    expect(await roomy.read("/big/huge.log", 1, 1)).toMatchObject({ content: `needle ${"x".repeat(92)}` });
    expect((await roomy.grep("needle", "/big", null, 2)).matches?.map((m) => m.path)).toEqual([
      "/big/huge.log",
      "/big/huge.log",
    ]);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new PostgresBackend({ sql, table, maxFileSizeMb: bad })).toThrow(DeepfsError);
    }
  });
});
