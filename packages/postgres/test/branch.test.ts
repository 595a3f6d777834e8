// Copy-on-write branches with a PostgreSQL namespace as the base: the branch rules (commit with
// ifMatch on the recorded etags, conflicts, deletes, three-way merges, two branches of one base).
import { createContractContext, registerBranchRules } from "@deepfs/conformance";
import { afterAll, describe } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, randomName, skipReason, testClient } from "./support.js";

const sql = skipReason ? undefined : testClient({ max: 4 });
const table = randomName("branch");

afterAll(async () => {
  if (!sql) return;
  await dropTable(sql, table);
  await sql.end();
});

describe.skipIf(Boolean(skipReason))("branches of a PostgresBackend", () => {
  registerBranchRules(
    createContractContext({
      name: "PostgresBackend",
      create: () => {
        const backend = new PostgresBackend({
          sql: sql as NonNullable<typeof sql>,
          table,
          namespace: randomName("ns"),
        });
        return { backend, root: "/", cleanup: () => backend.close() };
      },
    }),
  );
});
