// What is specific to the history table of PostgresBackend (the rules are in history.test.ts): a
// version is written by the same statement as its change (both or neither), namespaces are compared
// by equality, files written without history become versions, retention refuses a snapshot it broke,
// and history off writes nothing to (nor creates) a history table.
import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("the history table", () => {
  const sql = testClient({ max: 4 });
  const table = randomName("hsql");
  const history = `${table}_history`;
  const backendOf = (namespace: string, withHistory: boolean | { maxVersions: number } = true) =>
    new PostgresBackend({ sql, table, namespace, ...(withHistory ? { history: withHistory } : {}) });
  const rowsOf = async (namespace: string, path?: string) =>
    sql`SELECT path, op, etag, content FROM ${sql(history)} WHERE namespace = ${namespace}
        ${path === undefined ? sql`` : sql`AND path = ${path}`} ORDER BY version_id`;

  afterAll(async () => {
    await dropTable(sql, history);
    await dropTable(sql, table);
    await sql.end();
  });

  it("a refused write, edit or upload leaves no version", async () => {
    const ns = randomName("ns");
    const b = backendOf(ns);
    expect((await b.write("/a.txt", "one")).error).toBeUndefined();
    expect((await b.write("/a.txt", "x", { ifMatch: "not-the-etag" })).code).toBe("conflict");
    expect((await b.write("/a.txt", "x", { ifNoneMatch: "*" })).code).toBe("conflict");
    expect((await b.write("/a.txt/below.txt", "x")).code).toBe("not_a_directory");
    expect((await b.edit("/a.txt", "absent", "x")).code).toBe("string_not_found");
    const [up] = await b.uploadFiles([["/a.txt/b.txt", new TextEncoder().encode("x")]]);
    expect(up?.error).not.toBeNull();
    expect((await b.delete("/missing.txt")).code).toBe("file_not_found");
    expect((await rowsOf(ns)).map((r) => `${r.op} ${r.path}`)).toEqual(["write /a.txt"]);
  });

  it("a change whose version cannot be written is rolled back with it (write, upload, recursive delete)", async () => {
    const ns = randomName("ns");
    const b = backendOf(ns);
    await b.initialize();
    expect((await b.write("/d/a.txt", "a")).error).toBeUndefined();
    expect((await b.write("/d/boom.txt", "b")).error).toBeUndefined();
    // A trigger refuses some versions of this namespace: the change itself must fail too.
    const fn = `${table}_refuse`;
    await sql.unsafe(`
      CREATE FUNCTION "${fn}"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused version'; END $$`);
    await sql.unsafe(`
      CREATE TRIGGER "${fn}" BEFORE INSERT ON "${history}" FOR EACH ROW
      WHEN (NEW.namespace = '${ns}' AND NEW.path = '/d/boom.txt') EXECUTE FUNCTION "${fn}"()`);
    try {
      expect((await b.write("/d/boom.txt", "changed")).error).toBeDefined();
      expect((await b.read("/d/boom.txt")).content).toBe("b");
      const [first, second] = await b.uploadFiles([
        ["/u/ok.txt", new TextEncoder().encode("ok")],
        ["/d/boom.txt", new TextEncoder().encode("uploaded")],
      ]);
      // One transaction per chunk: neither file changed.
      expect(first?.error).not.toBeNull();
      expect(second?.error).not.toBeNull();
      expect((await b.read("/u/ok.txt")).code).toBe("file_not_found");
      expect((await b.delete("/d")).error).toBeDefined();
      expect((await b.read("/d/a.txt")).content).toBe("a");
      expect((await b.read("/d/boom.txt")).content).toBe("b");
    } finally {
      await sql.unsafe(`DROP TRIGGER "${fn}" ON "${history}"`);
      await sql.unsafe(`DROP FUNCTION "${fn}"()`);
    }
    expect((await rowsOf(ns)).map((r) => `${r.op} ${r.path}`)).toEqual(["write /d/a.txt", "write /d/boom.txt"]);
  });

  it("a snapshot waits for changes in flight, so none lands below its watermark later", async () => {
    const ns = randomName("ns");
    const b = backendOf(ns);
    expect((await b.write("/slow.txt", "v1")).error).toBeUndefined();
    // The version of this write is delayed after its id is drawn: a later write gets a higher id
    // and commits first.
    const fn = `${table}_slow`;
    await sql.unsafe(`
      CREATE FUNCTION "${fn}"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$`);
    await sql.unsafe(`
      CREATE TRIGGER "${fn}" BEFORE INSERT ON "${history}" FOR EACH ROW
      WHEN (NEW.namespace = '${ns}' AND NEW.path = '/slow.txt') EXECUTE FUNCTION "${fn}"()`);
    try {
      const order: string[] = [];
      const slow = b.write("/slow.txt", "v2").then((r) => {
        order.push("slow write");
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await b.write("/fast.txt", "f")).error).toBeUndefined();
      const snap = await b.snapshot().then((r) => {
        order.push("snapshot");
        return r.snapshot as string;
      });
      expect((await slow).error).toBeUndefined();
      expect(order).toEqual(["slow write", "snapshot"]);
      expect((await b.changesSince(snap)).changes).toEqual([]);
      await b.write("/slow.txt", "v3");
      expect((await b.restoreSnapshot(snap)).changes).toEqual([{ path: "/slow.txt", change: "modified" }]);
      expect((await b.read("/slow.txt")).content).toBe("v2");
    } finally {
      await sql.unsafe(`DROP TRIGGER "${fn}" ON "${history}"`);
      await sql.unsafe(`DROP FUNCTION "${fn}"()`);
    }
  });

  it("under concurrent writers a file's row and its version are visible together", async () => {
    const ns = randomName("ns");
    const [one, two] = [ownedBackend({ table, namespace: ns, history: true }), backendOf(ns)];
    try {
      let writing = true;
      const writers = [one, two].map(async (b, w) => {
        let acknowledged = 0;
        for (let i = 0; i < 25; i++) {
          if (!(await b.write(`/c/${i % 5}.txt`, `w${w} ${i}`)).error) acknowledged++;
        }
        return acknowledged;
      });
      const checks = (async () => {
        let seen = 0;
        while (writing) {
          // One statement, one snapshot: every current row has its version.
          const rows = await sql`
            SELECT f.path, EXISTS (SELECT 1 FROM ${sql(history)} h WHERE h.namespace = f.namespace
                                   AND h.path = f.path AND h.etag = f.version) AS versioned
            FROM ${sql(table)} f WHERE f.namespace = ${ns}`;
          for (const row of rows) expect(row.versioned, `${row.path} has its version`).toBe(true);
          seen += rows.length;
        }
        return seen;
      })();
      const acknowledged = (await Promise.all(writers)).reduce((a, b) => a + b, 0);
      writing = false;
      await checks;
      expect(acknowledged).toBe(50);
      expect(await rowsOf(ns)).toHaveLength(50);
    } finally {
      await one.close();
    }
  });

  it("namespaces that LIKE would confuse keep their versions and snapshots apart", async () => {
    const run = randomName("run");
    const names = ["acme", "acm_", "acme%", "ac\\me", "acme\\"];
    const backends = names.map((n) => backendOf(`${run}/${n}`));
    for (const [i, b] of backends.entries()) expect((await b.write("/x.txt", `tenant ${i}`)).error).toBeUndefined();
    const snaps = await Promise.all(backends.map(async (b) => (await b.snapshot()).snapshot as string));
    // A change in acm_ after the snapshots is no change of acme.
    expect((await (backends[1] as PostgresBackend).write("/y.txt", "later")).error).toBeUndefined();
    for (const [i, b] of backends.entries()) {
      const versions = (await b.history("/x.txt")).versions ?? [];
      expect(versions).toHaveLength(1);
      expect((await b.readVersion("/x.txt", versions[0]?.version as string)).data?.content).toBe(`tenant ${i}`);
      const changes = (await b.changesSince(snaps[i] as string)).changes ?? [];
      expect(changes.map((c) => c.path)).toEqual(i === 1 ? ["/y.txt"] : []);
      for (const [j, other] of backends.entries()) {
        if (j === i) continue;
        const theirs = (await other.history("/x.txt")).versions?.[0]?.version as string;
        expect((await b.readVersion("/x.txt", theirs)).code).toBe("file_not_found");
        expect((await b.restore("/x.txt", theirs)).code).toBe("file_not_found");
        expect((await b.changesSince(snaps[j] as string)).code).toBe("invalid_argument");
      }
      expect(await rowsOf(`${run}/${names[i]}`, "/x.txt")).toHaveLength(1);
    }
  });

  it("files written with history off become versions when a backend with history starts", async () => {
    const ns = randomName("ns");
    const off = backendOf(ns, false);
    await off.write("/kept.txt", "before history");
    await off.write("/gone.txt", "soon deleted");
    const on = backendOf(ns);
    await on.initialize();
    expect((await on.history("/kept.txt")).versions?.map((v) => v.op)).toEqual(["write"]);
    const snap = (await on.snapshot()).snapshot as string;
    // Changes made with history off are caught up by the next start: a new version, a tombstone.
    await off.write("/kept.txt", "changed without history");
    await off.delete("/gone.txt");
    expect(await rowsOf(ns)).toHaveLength(2);
    const again = backendOf(ns);
    await again.initialize();
    expect((await again.history("/kept.txt")).versions?.map((v) => v.op)).toEqual(["write", "write"]);
    expect((await again.history("/gone.txt")).versions?.map((v) => v.op)).toEqual(["delete", "write"]);
    const changes = (await again.changesSince(snap)).changes?.map((c) => `${c.change} ${c.path}`);
    expect(changes).toEqual(["deleted /gone.txt", "modified /kept.txt"]);
    // A second start finds nothing to catch up.
    await backendOf(ns).initialize();
    expect(await rowsOf(ns)).toHaveLength(4);
  });

  it("retention prunes in SQL and refuses a snapshot that needs a pruned version", async () => {
    const ns = randomName("ns");
    const b = backendOf(ns, { maxVersions: 2 });
    await b.write("/f.txt", "v0");
    const snap = (await b.snapshot()).snapshot as string;
    for (const v of ["v1", "v2", "v3"]) await b.write("/f.txt", v);
    // Created after the snapshot and pruned since: still `added`, not pruned.
    for (const v of ["n1", "n2", "n3"]) await b.write("/new.txt", v);
    expect(await rowsOf(ns, "/f.txt")).toHaveLength(2);
    expect(await rowsOf(ns, "/new.txt")).toHaveLength(2);
    const refused = await b.changesSince(snap);
    expect(refused.code).toBe("unsupported");
    expect((await b.restoreSnapshot(snap)).code).toBe("unsupported");
    await b.delete("/f.txt");
    const later = (await b.snapshot()).snapshot as string;
    await b.write("/new.txt", "n4");
    expect((await b.changesSince(later)).changes).toEqual([{ path: "/new.txt", change: "modified" }]);
  });

  it("retention by age drops old versions, never a file's newest", async () => {
    const ns = randomName("ns");
    const b = new PostgresBackend({ sql, table, namespace: ns, history: { maxAgeMs: 150 } });
    await b.write("/old.txt", "only version");
    await b.write("/f.txt", "v1");
    await b.write("/f.txt", "v2");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Listed as retention has it before anything is pruned; the newest always stays.
    expect((await b.history("/f.txt")).versions).toHaveLength(1);
    expect((await b.history("/old.txt")).versions).toHaveLength(1);
    await b.write("/f.txt", "v3");
    expect((await rowsOf(ns, "/f.txt")).map((r) => Buffer.from(r.content).toString())).toEqual(["v3"]);
    expect(await rowsOf(ns, "/old.txt")).toHaveLength(1);
  });

  it("history off creates no history table and writes none", async () => {
    const bare = randomName("bare");
    const statements: string[] = [];
    const spy = testClient({ max: 2, debug: (_c, query) => statements.push(query) });
    try {
      const off = new PostgresBackend({ sql: spy, table: bare });
      await off.write("/a.txt", "a");
      await off.uploadFiles([["/b.txt", new TextEncoder().encode("b")]]);
      await off.edit("/a.txt", "a", "A");
      await off.delete("/a.txt");
      expect((await off.history("/b.txt")).code).toBe("unsupported");
      const [found] = await sql`SELECT to_regclass(${`public.${bare}_history`}) AS t`;
      expect(found?.t).toBeNull();
      expect(statements.some((s) => s.includes("_history"))).toBe(false);
      // Off on a table whose history another backend keeps: nothing of it lands there either.
      const ns = randomName("ns");
      await backendOf(ns).initialize();
      const offThere = new PostgresBackend({ sql: spy, table, namespace: ns });
      await offThere.write("/c.txt", "c");
      await offThere.delete("/c.txt");
      expect(await rowsOf(ns)).toHaveLength(0);
    } finally {
      await dropTable(sql, bare);
      await spy.end();
    }
  });

  it("two processes starting with history at once create the tables and seed once", async () => {
    const fresh = randomName("race");
    const seeder = new PostgresBackend({ sql, table: fresh, namespace: "n" });
    await seeder.write("/old.txt", "old");
    const [a, b] = [1, 2].map(() => ownedBackend({ table: fresh, namespace: "n", history: true }));
    try {
      await Promise.all([a?.initialize(), b?.initialize()]);
      expect((await a?.history("/old.txt"))?.versions).toHaveLength(1);
    } finally {
      await Promise.all([a?.close(), b?.close()]);
      await dropTable(sql, `${fresh}_history`);
      await dropTable(sql, fresh);
    }
  });
});
