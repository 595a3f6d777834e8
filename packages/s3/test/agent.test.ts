import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { expectedToolResults, runAgentScenario } from "@deepfs/conformance/agent";
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

    const { files, toolResults } = await runAgentScenario(backend, { root: "/work" });

    expect(toolResults.map(({ name, text }) => ({ name, text }))).toEqual(expectedToolResults(files));

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
