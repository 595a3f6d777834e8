import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, randomName, skipReason, testClient } from "./support.js";

// Namespaces that a prefix or a LIKE would confuse: each is a prefix of, or a LIKE pattern for, another.
const NAMESPACES = ["acme", "acme-corp", "acm_", "acme%", "ac\\me"] as const;
/** A path-safe directory name for a namespace. */
const dirOf = (ns: string) => ns.replace("\\", "backslash");

describe.skipIf(skipReason)("tenant isolation", () => {
  const sql = testClient();
  const table = randomName("isolation");
  const backends = new Map<string, PostgresBackend>();
  const backend = (ns: string) => backends.get(ns) as PostgresBackend;

  beforeAll(async () => {
    for (const ns of NAMESPACES) backends.set(ns, new PostgresBackend({ sql, table, namespace: ns }));
    for (const ns of NAMESPACES) {
      const b = backend(ns);
      expect((await b.write("/shared.txt", `secret of ${ns}\n`)).error).toBeUndefined();
      expect((await b.write(`/only/${dirOf(ns)}/notes.md`, `note of ${ns}\n`)).error).toBeUndefined();
      expect((await b.write("/dir%_/x_1%.txt", `odd name of ${ns}\n`)).error).toBeUndefined();
    }
  });

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  it("reads and lists only the tenant's own files", async () => {
    for (const ns of NAMESPACES) {
      const b = backend(ns);
      expect((await b.read("/shared.txt")).content).toBe(`secret of ${ns}`);
      const raw = await b.readRaw("/dir%_/x_1%.txt");
      expect(raw.data?.content).toBe(`odd name of ${ns}\n`);
      const ls = await b.ls("/only");
      expect(ls.files?.map((f) => f.path)).toEqual([`/only/${dirOf(ns)}/`]);
      const root = await b.ls("/");
      expect(root.files?.map((f) => f.path)).toEqual(["/dir%_/", "/only/", "/shared.txt"]);
      const [download] = await b.downloadFiles(["/shared.txt"]);
      expect(new TextDecoder().decode(download?.content ?? new Uint8Array())).toBe(`secret of ${ns}\n`);
    }
  });

  it("searches only the tenant's own files (grep and glob)", async () => {
    for (const ns of NAMESPACES) {
      const b = backend(ns);
      const grep = await b.grep("secret of");
      expect(grep.matches).toEqual([{ path: "/shared.txt", line: 1, text: `secret of ${ns}` }]);
      const globbed = await b.grep("of", "/", "*.md");
      expect(globbed.matches).toEqual([{ path: `/only/${dirOf(ns)}/notes.md`, line: 1, text: `note of ${ns}` }]);
      const glob = await b.glob("**/*.md");
      expect(glob.files?.map((f) => f.path)).toEqual([`/only/${dirOf(ns)}/notes.md`]);
      for (const other of NAMESPACES.filter((o) => o !== ns)) {
        expect((await b.read(`/only/${dirOf(other)}/notes.md`)).code).toBe("file_not_found");
        expect((await b.edit(`/only/${dirOf(other)}/notes.md`, "note", "x")).code).toBe("file_not_found");
        expect((await b.delete(`/only/${dirOf(other)}`)).code).toBe("file_not_found");
        expect((await b.write(`/only/${dirOf(other)}/notes.md`, "x", { ifMatch: "1" })).code).toBe("conflict");
      }
    }
  });

  it("writes, edits and deletes only the tenant's own files", async () => {
    const acme = backend("acme");
    const corp = backend("acme-corp");
    const before = await corp.readRaw("/shared.txt");
    expect((await acme.edit("/shared.txt", "secret", "public")).occurrences).toBe(1);
    expect((await acme.write("/dir%_/x_1%.txt", "rewritten")).error).toBeUndefined();
    expect(await corp.readRaw("/shared.txt")).toEqual(before);
    expect((await corp.read("/dir%_/x_1%.txt")).content).toBe("odd name of acme-corp");
    // A new file in one tenant is not "a directory" or "a file in the way" for another.
    expect((await corp.write("/shared.txt/below", "x")).code).toBe("not_a_directory");
    expect((await acme.write("/only/acme-corp", "a file here is fine for acme")).error).toBeUndefined();
    expect((await acme.delete("/")).path).toBe("/");
    expect((await acme.ls("/")).files).toEqual([]);
    for (const ns of NAMESPACES.filter((o) => o !== "acme")) {
      expect((await backend(ns).ls("/")).files?.map((f) => f.path)).toEqual(["/dir%_/", "/only/", "/shared.txt"]);
    }
  });
});
