import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { runAgentScenario } from "@deepfs/conformance/agent";
import { utf8ByteLength } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

describe.skipIf(skipReason)("a real deep agent (createDeepAgent, scripted offline model)", () => {
  const client = testClient();
  const prefix = randomPrefix("agent");

  beforeAll(() => ensureBucket(client));
  afterAll(async () => {
    await removePrefix(client, prefix);
    await removePrefix(client, `${prefix}-x`);
    client.destroy();
  });

  it("works on an S3Backend", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    // A neighbour tenant whose prefix extends this one's name, which the agent must neither see nor change.
    const neighbour = new S3Backend({ client, bucket, prefix: `${prefix}-x` });
    expect((await neighbour.write("/work/src/other.py", 'print("deepfs-agent-needle")\n')).error).toBeUndefined();

    const { files, byTool, toolResults } = await runAgentScenario(backend, { root: "/work" });

    expect(toolResults.map((r) => r.name)).toEqual([
      "write_file",
      "write_file",
      "read_file",
      "edit_file",
      "ls",
      "glob",
      "grep",
    ]);
    expect(toolResults[0]?.text).toBe(`Successfully wrote to '${files.todo}'`);
    expect(toolResults[1]?.text).toBe(`Successfully wrote to '${files.app}'`);
    expect(byTool.read_file?.text).toBe(`@@ lines 1-3 of 3 @@\n${files.todoWritten.slice(0, -1)}`);
    expect(byTool.edit_file?.text).toBe(`Successfully replaced 1 occurrence(s) in '${files.todo}'`);
    expect(byTool.ls?.text).toBe(`${files.todo} (${utf8ByteLength(files.todoEdited)} bytes)`);
    expect(byTool.glob?.text).toBe(files.app);
    expect(byTool.grep?.text).toBe(`${files.app}:\n  2:     print("${files.grepNeedle}")`);

    // What the agent did is in the bucket as plain objects under this prefix, and nothing else is.
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([`${prefix}/work/notes/todo.md`, `${prefix}/work/src/app.py`]);
    const text = async (key: string) =>
      (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString("utf8");
    expect(await text(`${prefix}/work/notes/todo.md`)).toBe(files.todoEdited);
    expect(await text(`${prefix}/work/src/app.py`)).toBe(files.appContent);
    expect((await neighbour.glob("**")).files?.map((f) => f.path)).toEqual(["/work/src/other.py"]);
    expect((await neighbour.read("/work/src/other.py")).content).toBe('print("deepfs-agent-needle")');
  }, 60_000);
});
