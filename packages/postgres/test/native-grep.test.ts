import { DEFAULT_GREP_LIMITS, GrepTally, grepTexts, parseGrepArgs } from "@deepfs/core";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPLIT_IN_SQL_MAX_BYTES } from "../src/grep.js";
import { ReadAhead } from "../src/grep-lines.js";
import { PostgresBackend } from "../src/index.js";
import { countingSocket, dropTable, pgUrl, randomName, skipReason } from "./support.js";

const FILES = 10_000;
const NEEDLE_EVERY = 500;

describe.skipIf(skipReason)(`grep inside the database (${FILES} files)`, () => {
  const table = randomName("grep");
  const namespace = "search";
  const statements: string[] = [];
  let bytesReceived = 0;
  // A client that counts the bytes the server sends and records every statement.
  const socketOption = countingSocket((n) => {
    bytesReceived += n;
  });
  const sql = postgres(pgUrl, {
    max: 2,
    onnotice: () => {},
    debug: (_connection, query) => statements.push(query),
    ...socketOption,
  });
  const backend = new PostgresBackend({ sql, table, namespace });

  /** Runs `call` and returns its result with the bytes received and the statements sent meanwhile. */
  async function measured<T>(call: () => Promise<T>): Promise<{ result: T; bytes: number; sent: string[] }> {
    const before = bytesReceived;
    const from = statements.length;
    const result = await call();
    return { result, bytes: bytesReceived - before, sent: statements.slice(from) };
  }

  /** The core matcher over every file of the tenant, fetched whole: the expected answer. */
  async function expected(pattern: string, path?: string, glob?: string, maxCount?: number) {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) throw new Error(parsed.error);
    const rows = await sql`
      SELECT path, text_content FROM ${sql(table)} WHERE namespace = ${namespace} AND text_content IS NOT NULL`;
    return grepTexts(
      rows.map((r) => ({ path: r.path as string, text: r.text_content as string })),
      parsed.query,
    );
  }

  beforeAll(async () => {
    await backend.initialize();
    // Seeded in SQL (the backend's layout) because 10,000 separate writes would dominate the run.
    await sql`
      INSERT INTO ${sql(table)} (namespace, path, parent, content, text_content, size, mime_type)
      SELECT ${namespace}, p.path, p.parent, convert_to(p.body, 'UTF8'), p.body, octet_length(p.body), 'text/plain'
      FROM (
        SELECT '/src/m' || (i % 7) || '/f' || i || '.txt' AS path, '/src/m' || (i % 7) AS parent,
               repeat('lorem ipsum dolor sit amet ' || i || E'\n', 6)
               || CASE WHEN i % ${NEEDLE_EVERY} = 0 THEN E'the NEEDLE is here\nand NEEDLE again\n' ELSE '' END
               || repeat(E'consectetur adipiscing elit\n', 30) AS body
        FROM generate_series(1, ${FILES}) AS i
      ) p`;
    // Binary files that contain the needle must never match.
    expect(
      (await backend.uploadFiles([["/src/m0/NEEDLE.png", new TextEncoder().encode("NEEDLE")]]))[0]?.error,
    ).toBeNull();
    expect((await backend.write("/src/m0/nul.txt", "NEEDLE\u0000")).error).toBeUndefined();
  }, 60_000);

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  it("returns the same matches as the core matcher, and only matching lines cross the wire", async () => {
    const [{ size }] = (await sql`SELECT sum(size)::int8::text AS size FROM ${sql(table)}`) as unknown as [
      { size: string },
    ];
    expect(Number(size)).toBeGreaterThan(10_000_000);
    // Without a glob or a cap (one statement finds the 20 files, which stay within the split size:
    // their paths only), with a glob and with a cap (the paths first): then their lines, split in SQL.
    const whole = await measured(() => backend.grep("NEEDLE"));
    expect(whole.result).toEqual(await expected("NEEDLE"));
    expect(whole.result.matches).toHaveLength((FILES / NEEDLE_EVERY) * 2);
    expect(whole.sent.join("\n")).toMatch(/OVER \(ROWS UNBOUNDED PRECEDING\)/);
    for (const call of [
      () => backend.grep("NEEDLE", "/", "**/*.txt"),
      () => backend.grep("NEEDLE", "/", null, 1_000),
    ]) {
      const { result, bytes, sent } = await measured(call);
      expect(result.matches).toEqual(whole.result.matches);
      // 40 short lines came back out of ~10 MB of content; allow for protocol overhead.
      expect(bytes).toBeLessThan(8_000);
      expect(sent.join("\n")).toMatch(/strpos\(l\.text/);
    }
    expect(whole.bytes).toBeLessThan(8_000);
    expect(whole.sent.join("\n")).toMatch(/strpos\(l\.text/);
  });

  it("turns maxCount into a LIMIT", async () => {
    const { result, bytes, sent } = await measured(() => backend.grep("lorem", "/", null, 3));
    expect(result).toEqual(await expected("lorem", "/", undefined, 3));
    expect(result.truncated).toBe(true);
    expect(bytes).toBeLessThan(2_000);
    expect(sent.join("\n")).toMatch(/LIMIT \$\d+/);
  });

  it("stops at maxCount + 1 on a needle every file holds, without reading past the first files", async () => {
    const { result, bytes, sent } = await measured(() => backend.grep("consectetur", "/", null, 5));
    expect(result).toEqual(await expected("consectetur", "/", undefined, 5));
    expect(result.truncated).toBe(true);
    // One statement finds the matching files among the first ones in path order, one reads the
    // lines of at most six of them; the 10,000 files (and the trigram index) are never searched.
    expect(sent).toHaveLength(2);
    expect(sent.join("\n")).not.toMatch(/enable_seqscan/);
    expect(bytes).toBeLessThan(2_000);
  });

  it("narrows by path and glob in SQL and lets the core matcher decide", async () => {
    for (const [path, glob] of [
      ["/src/m3", null],
      ["/src", "*.txt"],
      ["/", "src/m1*/**"],
      ["/src", "m6/f[1-2]000.txt"],
      ["/src/m3/f500.txt", null],
    ] as const) {
      const { result, bytes } = await measured(() => backend.grep("NEEDLE", path, glob));
      expect(result).toEqual(await expected("NEEDLE", path, glob ?? undefined));
      expect(result.matches?.length).toBeGreaterThan(0);
      expect(bytes).toBeLessThan(8_000);
    }
  });

  it("streams large matching files to Node in path order and stops reading at maxCount + 1", async () => {
    // 100 files of ~100 KB (10 MB), every line matching: beyond SPLIT_IN_SQL_MAX_BYTES, so their
    // texts are streamed with a cursor; 5,000 matches lie in the first three files.
    const line = (i: number, n: number) => `WIDE marker ${n} of big file ${i}, CRLF-terminated\r`;
    const big = Array.from({ length: 100 }, (_, i): [string, Uint8Array] => [
      `/big/b${String(i).padStart(3, "0")}.txt`,
      new TextEncoder().encode(
        `${Array.from({ length: 2_000 }, (_, n) => line(i, n)).join("\n")}${i % 2 === 0 ? "\n" : ""}`,
      ),
    ]);
    expect(big.reduce((sum, [, bytes]) => sum + bytes.byteLength, 0)).toBeGreaterThan(8 * SPLIT_IN_SQL_MAX_BYTES);
    for (const result of await backend.uploadFiles(big)) expect(result.error).toBeNull();
    try {
      const capped = await measured(() => backend.grep("WIDE", "/big", null, 5_000));
      expect(capped.result).toEqual(await expected("WIDE", "/big", undefined, 5_000));
      expect(capped.result.truncated).toBe(true);
      expect(capped.result.matches?.[2_000]).toEqual({ path: "/big/b001.txt", line: 1, text: line(1, 0) });
      // Matched in Node (no line split in SQL), and far fewer bytes than the 10 MB were read.
      expect(capped.sent.join("\n")).not.toMatch(/strpos\(l\.text/);
      expect(capped.bytes).toBeLessThan(5_000_000);
      // Without a cap every file is read and every line found, the last file's final newline included.
      const all = await backend.grep("WIDE", "/big", "b09*.txt");
      expect(all).toEqual(await expected("WIDE", "/big", "b09*.txt"));
      expect(all.matches).toHaveLength(10 * 2_000);
      // Without a glob, one statement finds the files and sends their texts once the files found
      // pass the split size (the first ones' lines are split in SQL, by one more statement).
      const everything = await measured(() => backend.grep("WIDE", "/big"));
      expect(everything.result).toEqual(await expected("WIDE", "/big"));
      expect(everything.result.matches).toHaveLength(100 * 2_000);
      expect(everything.sent.filter((statement) => /OVER \(ROWS UNBOUNDED PRECEDING\)/.test(statement))).toHaveLength(
        1,
      );
      expect(everything.sent.filter((statement) => /f\.path = ANY/.test(statement))).toHaveLength(1);
      // With a glob, 10 MB found: read in several parts while the search for the files goes on, one answer in order.
      const globbed = await measured(() => backend.grep("WIDE", "/big", "*.txt"));
      expect(globbed.result).toEqual(everything.result);
      expect(globbed.sent.filter((statement) => /f\.path = ANY/.test(statement)).length).toBeGreaterThan(1);
    } finally {
      await sql`DELETE FROM ${sql(table)} WHERE namespace = ${namespace} AND path LIKE '/big/%'`;
    }
  });

  it("without a cap, searches large files as the server sends them and answers in path order", async () => {
    // 40 files of ~50 KB (2 MB, beyond SPLIT_IN_SQL_MAX_BYTES), written last path first and some
    // rewritten, so that the table's order is not the paths' order; multi-byte text on every line,
    // the needle on some lines only, CRLF on half the files, no final newline on some.
    const names = Array.from(
      { length: 40 },
      (_, i) => `/wide/${i % 3 === 0 ? "é" : "e"}/w${String(i).padStart(2, "0")}.ts`,
    );
    const body = (i: number, round: number) =>
      Array.from({ length: 2_000 }, (_, n) => `ligne ${n} de ${i}: ${n % 7 === 0 ? "ÜBER😀marker" : "rien"} ${round}`)
        .join(i % 2 === 0 ? "\r\n" : "\n")
        .concat(i % 5 === 0 ? "" : "\n");
    const files = names.map((path, i): [string, Uint8Array] => [path, new TextEncoder().encode(body(i, 0))]).reverse();
    for (const result of await backend.uploadFiles(files)) expect(result.error).toBeNull();
    for (const i of [3, 17, 30]) expect((await backend.write(names[i] as string, body(i, 1))).error).toBeUndefined();
    try {
      // In one statement (no glob), and with a glob in two phases that read while they search.
      for (const glob of [null, "**"]) {
        const all = await measured(() => backend.grep("ÜBER😀", "/wide", glob));
        expect(all.result).toEqual(await expected("ÜBER😀", "/wide"));
        expect(all.result.matches).toHaveLength(40 * 286);
        const paths = (all.result.matches ?? []).map((m) => m.path);
        expect([...new Set(paths)]).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
        // With a glob, matched in Node, not split in SQL; without, the first files found (within
        // the split size) are split in SQL and the rest matched in Node, one answer in path order.
        if (glob !== null) expect(all.sent.join("\n")).not.toMatch(/strpos\(l\.text/);
      }
    } finally {
      await sql`DELETE FROM ${sql(table)} WHERE namespace = ${namespace} AND path LIKE '/wide/%'`;
    }
  });

  it("a read that fails while the search goes on is thrown once at the end, never left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const tally = new GrepTally({ maxCount: Number.POSITIVE_INFINITY, limits: DEFAULT_GREP_LIMITS });
      const lines = new ReadAhead({ sql, ref: { schema: "public", table: `${table}_missing` }, namespace }, "x", tally);
      // 3 x 8 MB found: reads start (and fail) while files are still being added.
      for (let i = 0; i < 3 * 1024; i++) lines.add({ path: `/f${i}`, size: 8 * 1024 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await expect(lines.matches()).rejects.toThrow(/does not exist/);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("finds 1-2 character needles by a table scan and the rest with the trigram index, whatever the estimate", async () => {
    const short = await measured(() => backend.grep("3", "/src/m3"));
    expect(short.result).toEqual(await expected("3", "/src/m3"));
    expect(short.sent.join("\n")).toMatch(/enable_bitmapscan/);
    expect(short.sent.join("\n")).not.toMatch(/enable_seqscan/);
    const long = await measured(() => backend.grep("NEEDLE"));
    expect(long.sent.join("\n")).toMatch(/enable_seqscan/);
    expect(long.sent.join("\n")).toMatch(/text_content LIKE/);
  });

  it("without a cap or glob, the statement that finds the matching files sends their texts", async () => {
    for (const pattern of ["3\n", "ip", "é", "%_", "", "NEEDLE", "amet 4"]) {
      const one = await measured(() => backend.grep(pattern, "/src/m4"));
      expect(one.result, JSON.stringify(pattern)).toEqual(await expected(pattern, "/src/m4"));
      if (pattern.includes("\n")) continue;
      // The statement that finds the files sends their texts beyond the split size; before it,
      // their paths, whose lines one more statement splits.
      const selects = one.sent.filter((statement) => /\bSELECT f\.path/.test(statement));
      expect(selects[0], JSON.stringify(pattern)).toMatch(/OVER \(ROWS UNBOUNDED PRECEDING\)/);
      expect(selects.length, JSON.stringify(pattern)).toBeLessThanOrEqual(2);
      // The trigram index where the pattern has trigrams, else a scan.
      expect(one.sent.join("\n")).toMatch(/[A-Za-z]{3}/.test(pattern) ? /enable_seqscan/ : /enable_bitmapscan/);
    }
    // With a glob or a cap, the files are found first (their paths), then their lines.
    for (const call of [() => backend.grep("ip", "/src/m4", "f4*.txt"), () => backend.grep("ip", "/src/m4", null, 5)]) {
      const two = await measured(call);
      expect(two.sent.filter((statement) => /\bSELECT f\.path/.test(statement)).length).toBeGreaterThan(1);
    }
    expect(await backend.grep("ip", "/src/m4", "f4*.txt")).toEqual(await expected("ip", "/src/m4", "f4*.txt"));
  });

  it("compresses the searchable text with LZ4 when the server has it", async () => {
    const lz4 = await sql`
      SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`;
    const [column] = await sql`
      SELECT attcompression::text AS method FROM pg_attribute
      WHERE attrelid = ${`public.${table}`}::regclass AND attname = 'text_content'`;
    expect(column?.method).toBe(lz4.length > 0 ? "l" : "");
  });

  it("has a pg_trgm index that answers the search", async () => {
    const indexes = await sql`SELECT indexname FROM pg_indexes WHERE tablename = ${table}`;
    expect(indexes.map((i) => i.indexname)).toContain(`${table}_text_trgm_idx`);
    // Whether the planner prefers it by its estimate depends on the table's statistics; the
    // backend forces the index plan anyway (see "whatever the estimate" above).
    await sql`ANALYZE ${sql(table)}`;
    const plan = await sql.begin(async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`;
      return tx`
        EXPLAIN SELECT path FROM ${sql(table)} WHERE namespace = ${namespace} AND text_content LIKE '%NEEDLE%'`;
    });
    expect(plan.map((row) => Object.values(row)[0]).join("\n")).toContain(`${table}_text_trgm_idx`);
  });
});
