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
});
