import { afterAll, describe, expect, it } from "vitest";
import { dropTable, ownedBackend, randomName, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("concurrency between processes", () => {
  const admin = testClient({ max: 1 });
  const table = randomName("concurrency");
  const namespace = randomName("ns");
  // Two backends with separate pools stand for two processes.
  const first = ownedBackend({ table, namespace });
  const second = ownedBackend({ table, namespace });

  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
    await dropTable(admin, table);
    await admin.end();
  });

  it("loses no edit when two processes edit one file at once", async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}: todo`);
    expect((await first.write("/plan.md", `${lines.join("\n")}\n`)).error).toBeUndefined();
    const results = await Promise.all(
      lines.map((line, i) => (i % 2 === 0 ? first : second).edit("/plan.md", line, line.replace("todo", "done"))),
    );
    expect(results.map((r) => r.code)).toEqual(lines.map(() => undefined));
    const etags = new Set(results.map((r) => r.etag));
    expect(etags.size).toBe(lines.length);
    const text = (await second.readRaw("/plan.md")).data?.content;
    expect(text).toBe(`${lines.map((l) => l.replace("todo", "done")).join("\n")}\n`);
  });

  it("lets exactly one of two racing ifNoneMatch writes create a file", async () => {
    const results = await Promise.all([
      first.write("/once.txt", "first", { ifNoneMatch: "*" }),
      second.write("/once.txt", "second", { ifNoneMatch: "*" }),
    ]);
    expect(results.map((r) => r.code ?? "ok").sort()).toEqual(["conflict", "ok"]);
  });

  it("never lets a file and a directory take one path when writes race", async () => {
    for (let round = 0; round < 10; round++) {
      const base = `/race${round}`;
      const results = await Promise.all([first.write(base, "a file"), second.write(`${base}/child.txt`, "below")]);
      const codes = results.map((r) => r.code ?? "ok").sort();
      expect([
        ["is_directory", "ok"],
        ["not_a_directory", "ok"],
      ]).toContainEqual(codes);
    }
  });

  it("compares versions for ifMatch: the second writer with a stale etag gets conflict", async () => {
    const created = await first.write("/cas.txt", "v1");
    const etag = created.etag as string;
    const results = await Promise.all([
      first.write("/cas.txt", "from first", { ifMatch: etag }),
      second.write("/cas.txt", "from second", { ifMatch: etag }),
    ]);
    expect(results.map((r) => r.code ?? "ok").sort()).toEqual(["conflict", "ok"]);
    const winner = results.findIndex((r) => !r.code);
    expect((await first.read("/cas.txt")).content).toBe(winner === 0 ? "from first" : "from second");
  });
});
