import { expectedToolResults, runAgentScenario } from "@deepfs/conformance/agent";
import { utf8ByteLength } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { dropTable, randomName, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("a real deep agent (createDeepAgent, scripted offline model)", () => {
  const sql = testClient();
  const table = randomName("agent");

  afterAll(async () => {
    await dropTable(sql, table);
    await sql.end();
  });

  it("works on a PostgresBackend", async () => {
    const namespace = randomName("ns");
    const backend = new PostgresBackend({ sql, table, namespace });
    // A neighbour tenant on the same table, which the agent must neither see nor change.
    const neighbour = new PostgresBackend({ sql, table, namespace: `${namespace}-x` });
    expect((await neighbour.write("/work/src/other.py", 'print("deepfs-agent-needle")\n')).error).toBeUndefined();

    const { files, toolResults } = await runAgentScenario(backend, { root: "/work" });

    expect(toolResults.map(({ name, text }) => ({ name, text }))).toEqual(expectedToolResults(files));

    // What the agent did is in the table, in its namespace only.
    const rows = await sql`
      SELECT path, parent, content IS NULL AS text_once, text_content, size::int AS size
      FROM ${sql(table)} WHERE namespace = ${namespace} ORDER BY path`;
    expect(rows.map((row) => ({ ...row }))).toEqual([
      {
        path: files.todo,
        parent: "/work/notes",
        text_once: true,
        text_content: files.todoEdited,
        size: utf8ByteLength(files.todoEdited),
      },
      {
        path: files.app,
        parent: "/work/src",
        text_once: true,
        text_content: files.appContent,
        size: utf8ByteLength(files.appContent),
      },
    ]);
    expect((await neighbour.glob("**")).files?.map((f) => f.path)).toEqual(["/work/src/other.py"]);
  }, 60_000);
});
