import { randomUUID } from "node:crypto";
import { encodeUtf8 } from "@deepfs/core";
import { requireOrSkipReason } from "@deepfs/harness";
import { InMemoryStore } from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import { StoreBackend as DeepagentsStoreBackend } from "deepagents";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80]);

function pair(store: InMemoryStore | PostgresStore) {
  const namespace = ["compat", `t-${randomUUID()}`];
  return {
    namespace,
    ours: new StoreBackend({ store, namespace }),
    theirs: new DeepagentsStoreBackend({ store, namespace }),
  };
}

describe("values shared with deepagents' own StoreBackend (InMemoryStore)", () => {
  const store = new InMemoryStore();

  it("reads text files deepagents wrote and edited, with their FileData fields", async () => {
    const { ours, theirs } = pair(store);
    await theirs.write("/notes/todo.md", "# Plan\n- [ ] review\n");
    await theirs.edit("/notes/todo.md", "[ ]", "[x]");
    const read = await ours.read("/notes/todo.md");
    expect(read).toMatchObject({ content: "# Plan\n- [x] review", mimeType: "text/markdown", totalLines: 2 });
    const raw = await ours.readRaw("/notes/todo.md");
    expect(raw.data).toMatchObject({ content: "# Plan\n- [x] review\n", mimeType: "text/markdown" });
    expect(raw.data?.created_at).toBeTypeOf("string");
    expect((await ours.ls("/notes")).files).toMatchObject([{ path: "/notes/todo.md", is_dir: false, size: 20 }]);
    expect((await ours.grep("review")).matches).toEqual([{ path: "/notes/todo.md", line: 2, text: "- [x] review" }]);
  });

  it("writes text files deepagents reads, lists, greps and edits", async () => {
    const { ours, theirs } = pair(store);
    await ours.write("/memories/user.md", "prefers tabs\nlikes tea\n");
    // deepagents keeps the final newline in its read window.
    expect(await theirs.read("/memories/user.md")).toMatchObject({
      content: "prefers tabs\nlikes tea\n",
      totalLines: 2,
    });
    expect((await theirs.ls("/memories")).files?.map((f) => f.path)).toEqual(["/memories/user.md"]);
    expect((await theirs.grep("tea")).matches).toEqual([{ path: "/memories/user.md", line: 2, text: "likes tea" }]);
    expect((await theirs.edit("/memories/user.md", "tea", "coffee")).error).toBeUndefined();
    expect((await ours.readRaw("/memories/user.md")).data?.content).toBe("prefers tabs\nlikes coffee\n");
  });

  it("exchanges binary files as exact bytes both ways", async () => {
    const { ours, theirs } = pair(store);
    await theirs.uploadFiles([["/theirs.png", PNG]]);
    const [mine] = await ours.downloadFiles(["/theirs.png"]);
    expect(mine?.content).toEqual(PNG);
    const read = await ours.read("/theirs.png");
    expect(read.content).toEqual(PNG);
    expect(read.mimeType).toBe("image/png");

    await ours.uploadFiles([["/ours.png", PNG]]);
    const [theirDownload] = await theirs.downloadFiles(["/ours.png"]);
    expect(theirDownload?.content).toEqual(PNG);
  });

  it("reads legacy v1 values (content as an array of lines)", async () => {
    const { namespace, ours } = pair(store);
    const legacy = new DeepagentsStoreBackend({ store, namespace, fileFormat: "v1" });
    await legacy.write("/old.txt", "line one\nline two");
    await store.put(namespace, "/older.md", {
      content: ["# Title", "body"],
      created_at: "2024-01-01T00:00:00.000Z",
      modified_at: "2024-01-02T00:00:00.000Z",
    });
    expect((await ours.read("/old.txt")).content).toBe("line one\nline two");
    expect(await ours.readRaw("/older.md")).toMatchObject({
      data: { content: "# Title\nbody", mimeType: "text/markdown", modified_at: "2024-01-02T00:00:00.000Z" },
    });
    expect((await ours.edit("/older.md", "body", "new body")).error).toBeUndefined();
    expect((await ours.readRaw("/older.md")).data).toMatchObject({
      content: "# Title\nnew body",
      created_at: "2024-01-01T00:00:00.000Z",
    });
    expect((await ours.grep("line two")).matches).toEqual([{ path: "/old.txt", line: 2, text: "line two" }]);
  });
});

const skip = requireOrSkipReason("postgres");
const schema = `deepfs_langgraph_compat_${randomUUID().replaceAll("-", "")}`;
const pgStore = skip
  ? undefined
  : new PostgresStore({ connectionOptions: process.env.DEEPFS_PG_URL as string, schema });

afterAll(async () => {
  if (!pgStore) return;
  await pgStore.stop();
  const sql = postgres(process.env.DEEPFS_PG_URL as string, { max: 1, onnotice: () => {} });
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql.end();
});

describe.skipIf(skip !== undefined)("values shared with deepagents' own StoreBackend (PostgresStore)", () => {
  it("exchanges text both ways", async () => {
    const { ours, theirs } = pair(pgStore as PostgresStore);
    await theirs.write("/a.md", "from deepagents\n");
    await ours.write("/b.md", "from deepfs\n");
    expect((await ours.read("/a.md")).content).toBe("from deepagents");
    expect((await theirs.read("/b.md")).content).toBe("from deepfs\n");
  });

  it("recovers the exact bytes of a binary file deepagents wrote, which JSON turned into an object", async () => {
    const { ours, theirs } = pair(pgStore as PostgresStore);
    await theirs.uploadFiles([["/img.png", PNG]]);
    const [download] = await ours.downloadFiles(["/img.png"]);
    expect(download?.content).toEqual(PNG);
  });

  it("stores its own binary files as marked base64 text that survives JSON", async () => {
    const { namespace, ours } = pair(pgStore as PostgresStore);
    await ours.uploadFiles([["/img.png", PNG]]);
    const item = await (pgStore as PostgresStore).get(namespace, "/img.png");
    expect(item?.value).toMatchObject({
      content: Buffer.from(PNG).toString("base64"),
      encoding: "base64",
      mimeType: "image/png",
    });
    expect((await ours.downloadFiles(["/img.png"]))[0]?.content).toEqual(PNG);
    await ours.write("/nul.txt", "a\u0000b");
    expect((await ours.readRaw("/nul.txt")).data?.content).toBe("a\u0000b");
    expect((await ours.downloadFiles(["/nul.txt"]))[0]?.content).toEqual(encodeUtf8("a\u0000b"));
  });
});
