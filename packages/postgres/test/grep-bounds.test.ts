// The SQL grep keeps its answer's bounds (GrepQuery.limits) itself: on every path it stops as soon as
// the matches found pass them (a statement still sending rows is cancelled, a cursor closed, a LIMIT
// is at most what fits), answers too_large, and leaves its connections usable.
import { type GrepLimits, parseGrepArgs } from "@deepfs/core";
import { isFault, memberDriver } from "@deepfs/core/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { countingClient, dropTable, randomName, skipReason } from "./support.js";

/** 100,000 files of four 100-byte lines, one holding `hit`: 40 MB, 100,000 matching lines. */
const MANY = 100_000;
const MANY_BYTES = MANY * 400;
/** A bound of ten lines, and characters enough for any ten of them. */
const TEN: GrepLimits = { maxMatches: 10, maxTextLength: 1_000_000 };

describe.skipIf(skipReason)("grep stops at its answer's bounds", () => {
  const table = randomName("gbounds");
  const namespace = "bounds";
  const application = randomName("grep_bounds");
  const { sql, received } = countingClient(application, 2);
  const backend = new PostgresBackend({ sql, table, namespace });
  const driver = memberDriver(backend);

  /** The driver's own grep (not the facade, whose check afterwards would hide a search that did not stop). */
  async function driverGrep(
    pattern: string,
    path: string,
    glob: string | null,
    maxCount: number | undefined,
    limits: GrepLimits,
  ) {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) throw new Error(parsed.error);
    const before = received();
    const started = performance.now();
    const found = await (driver.grep as NonNullable<typeof driver.grep>)({ ...parsed.query, limits }, {});
    return {
      answer: isFault(found) ? found.fault : `${found.matches.length} matches`,
      detail: isFault(found) ? found.detail : undefined,
      bytes: received() - before,
      ms: performance.now() - started,
    };
  }

  /** Every connection of the pool answers, and no session of ours is still busy or in a transaction. */
  async function expectConnectionsUsable() {
    const reserved = await Promise.all([sql.reserve(), sql.reserve()]);
    try {
      for (const connection of reserved) expect(await connection`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      for (const connection of reserved) connection.release();
    }
    const busy = await sql`
      SELECT state FROM pg_stat_activity
      WHERE application_name = ${application} AND pid <> pg_backend_pid() AND state <> 'idle'`;
    expect(busy).toEqual([]);
  }

  beforeAll(async () => {
    await backend.initialize();
    // Seeded in SQL (the backend's layout, text stored once) because 100,000 writes would dominate the run.
    await sql`
      INSERT INTO ${sql(table)} (namespace, path, parent, content, text_content, size, mime_type)
      SELECT ${namespace}, p.path, p.parent, NULL, p.body, octet_length(p.body), 'text/plain'
      FROM (
        SELECT '/many/d' || (i % 10) || '/f' || i || '.txt' AS path, '/many/d' || (i % 10) AS parent,
               rpad('hit ' || i, 99, 'x') || E'\n' || repeat(repeat('y', 99) || E'\n', 3) AS body
        FROM generate_series(1, ${MANY}) AS i
        UNION ALL
        -- 200 files of 20 matching lines (400 KB): within the size whose lines are split in SQL.
        SELECT '/small/f' || i || '.txt', '/small', repeat(rpad('hit small ' || i, 99, 's') || E'\n', 20)
        FROM generate_series(1, 200) AS i
        UNION ALL
        -- 20 files of 2,000 matching lines (4 MB): beyond it, searched in Node.
        SELECT '/big/f' || i || '.txt', '/big', repeat(rpad('hit big ' || i, 99, 'b') || E'\n', 2000)
        FROM generate_series(1, 20) AS i
      ) p`;
    await sql`ANALYZE ${sql(table)}`;
  }, 120_000);

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  it("without a cap or glob, the statement that sends the texts is cancelled (also for an empty pattern)", async () => {
    for (const pattern of ["hit", ""]) {
      const bounded = await driverGrep(pattern, "/many", null, undefined, TEN);
      expect(bounded.answer, JSON.stringify(pattern)).toBe("too_large");
      expect(bounded.detail).toBe("more than 10 matching lines");
      // The first MiB of files comes as paths (their lines are split in SQL at the end), then texts
      // until the eleventh match, and what was already on its way when the statement was cancelled
      // (the sockets' buffers, a few MB on loopback): far from the 40 MB the whole search reads.
      expect(bounded.bytes, JSON.stringify(pattern)).toBeLessThan(MANY_BYTES / 3);
      await expectConnectionsUsable();
    }
    // The same search within its bounds still answers every match.
    const all = await driverGrep("hit", "/many", null, undefined, { maxMatches: MANY, maxTextLength: MANY * 100 });
    expect(all.answer).toBe(`${MANY} matches`);
    await expectConnectionsUsable();
  }, 60_000);

  it("with a glob, the file search and the read under way are cancelled", async () => {
    const bounded = await driverGrep("hit", "/many", "**/*.txt", undefined, TEN);
    expect(bounded.answer).toBe("too_large");
    // The paths of the files found (about 6 MB of them, if the search ends before it is cancelled),
    // and of the texts only the first read's, itself cancelled: never the 40 MB of texts.
    expect(bounded.bytes).toBeLessThan(MANY_BYTES / 2);
    await expectConnectionsUsable();
  }, 60_000);

  it("files small enough to be split in SQL send no more lines than fit", async () => {
    // 4,000 matching lines (over 400 KB) against a bound of 10: eleven lines are asked for.
    for (const maxCount of [undefined, 1_000]) {
      const bounded = await driverGrep("hit", "/small", null, maxCount, TEN);
      expect(bounded.answer, String(maxCount)).toBe("too_large");
      expect(bounded.bytes, String(maxCount)).toBeLessThan(20_000);
    }
    await expectConnectionsUsable();
  });

  it("with a cap above the bound, the files searched in Node stop at what fits", async () => {
    // 40,000 matching lines in 4 MB; maxCount 1,000 does not lift the bound of 10.
    const lines = await driverGrep("hit", "/big", null, 1_000, TEN);
    expect(lines.answer).toBe("too_large");
    expect(lines.detail).toBe("more than 10 matching lines");
    // A cap under the line bound answers, but not past the bound in characters (101 lines of 99).
    const chars = await driverGrep("hit", "/big", null, 100, { maxMatches: 1_000_000, maxTextLength: 5_000 });
    expect(chars.answer).toBe("too_large");
    expect(chars.detail).toBe("more than 5,000 characters of matching lines");
    expect(await driverGrep("hit", "/big", null, 10, TEN)).toMatchObject({ answer: "11 matches" });
    await expectConnectionsUsable();
  });

  it("the backend answers as usual afterwards", async () => {
    expect(await backend.grep("hit 77x", "/many")).toEqual({
      matches: [{ path: "/many/d7/f77.txt", line: 1, text: `hit 77${"x".repeat(93)}` }],
    });
    expect((await backend.grep("hit", "/small", null, 3)).matches?.length).toBe(3);
  });
});
