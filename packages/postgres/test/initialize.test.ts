import { DeepfsError } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { ownedBackend, randomName, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("initialize", () => {
  const admin = testClient({ max: 1 });
  const schema = randomName("schema");

  afterAll(async () => {
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end();
  });

  it("succeeds when two processes create the same schema and table at once, and again later", async () => {
    const table = randomName("init");
    // Separate pools, as two processes would have.
    const first = ownedBackend({ schema, table, namespace: "a" });
    const second = ownedBackend({ schema, table, namespace: "b" });
    try {
      const [one, two] = await Promise.all([first.initialize(), second.initialize()]);
      expect(one).toEqual(two);
      expect(await first.initialize()).toEqual(one);
      const columns = await admin`
        SELECT column_name, collation_name FROM information_schema.columns
        WHERE table_schema = ${schema} AND table_name = ${table} ORDER BY ordinal_position`;
      expect(columns.map((c) => c.column_name)).toEqual([
        "namespace",
        "path",
        "parent",
        "content",
        "text_content",
        "size",
        "mime_type",
        "created_at",
        "modified_at",
        "version",
      ]);
      expect(columns.find((c) => c.column_name === "path")?.collation_name).toBe("C");
      expect((await first.write("/x.txt", "1")).error).toBeUndefined();
      expect((await second.read("/x.txt")).code).toBe("file_not_found");
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("creates the table on first use when initialize() was not called", async () => {
    const table = randomName("lazy");
    const backend = ownedBackend({ schema, table });
    try {
      const results = await Promise.all([backend.write("/a.txt", "a"), backend.ls("/"), backend.grep("a")]);
      expect(results[0].error).toBeUndefined();
      const [row] = await admin`SELECT count(*)::int AS n FROM ${admin(schema)}.${admin(table)}`;
      expect(row?.n).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it("does not end a client it was given, and ends the pool it created", async () => {
    const table = randomName("own");
    const given = new PostgresBackend({ sql: admin, schema, table });
    await given.initialize();
    await given.close();
    expect((await admin`SELECT 1 AS one`)[0]?.one).toBe(1);
    const owned = ownedBackend({ schema, table });
    await owned.initialize();
    await owned.close();
    expect((await owned.ls("/")).code).toBe("backend_unavailable");
  });

  it("refuses a table or schema whose name, or a name derived from it, PostgreSQL would truncate", async () => {
    // PostgreSQL cuts names at 63 bytes: two tables differing only past that would be one table.
    // The longest name derived from the table's is its history table's index, `_history_seq_idx`.
    const fits = `t${randomName("").replaceAll("_", "")}`.padEnd(47, "x");
    const refused = (config: { table?: string; schema?: string }, limit: number) => {
      let thrown: unknown;
      try {
        new PostgresBackend({ sql: admin, ...config });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(config)).toBeInstanceOf(DeepfsError);
      expect((thrown as DeepfsError).code).toBe("invalid_argument");
      expect((thrown as Error).message).toMatch(new RegExp(`at most ${limit} bytes`));
    };
    refused({ table: `${fits}y` }, 47);
    refused({ table: "é".repeat(24) }, 47); // 24 characters, 48 bytes
    refused({ schema: "s".repeat(64) }, 63);

    // The longest that fit: every name is created whole, none truncated.
    const longSchema = `${schema}`.padEnd(63, "s");
    const backend = new PostgresBackend({ sql: admin, schema: longSchema, table: fits, history: true });
    try {
      expect((await backend.write("/a.txt", "a")).error).toBeUndefined();
      const names = await admin`
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${longSchema} ORDER BY c.relname`;
      expect(names.map((r) => r.relname)).toEqual(
        expect.arrayContaining([
          fits,
          `${fits}_history`,
          `${fits}_history_seq_idx`,
          `${fits}_parent_idx`,
          `${fits}_text_trgm_idx`,
        ]),
      );
    } finally {
      await backend.close();
      await admin`DROP SCHEMA IF EXISTS ${admin(longSchema)} CASCADE`;
    }
  });

  it("refuses bad configuration by throwing", () => {
    expect(() => new PostgresBackend({ sql: admin, table: "a.b" })).toThrow(/table/);
    expect(() => new PostgresBackend({ sql: admin, namespace: "" })).toThrow(/namespace/);
    expect(() => new PostgresBackend({ url: "postgres://x@127.0.0.1:1/x", maxPoolSize: 0 })).toThrow(/maxPoolSize/);
  });
});
