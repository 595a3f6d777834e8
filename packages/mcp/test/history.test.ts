import { MemoryBackend } from "@deepfs/core";
import { afterEach, describe, expect, it } from "vitest";
import { HISTORY_READ_TOOLS, HISTORY_WRITE_TOOLS, keepsHistory } from "../src/index.js";
import { connect, textOf } from "./support.js";

type Connection = Awaited<ReturnType<typeof connect>>;
let open: Connection | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function start(...args: Parameters<typeof connect>): Promise<Connection> {
  open = await connect(...args);
  return open;
}

async function versionsOf(
  call: Connection["call"],
  path: string,
): Promise<Array<{ version: string; op: string; etag: string }>> {
  return (await call("file_history", { file_path: path })).structuredContent?.versions as Array<{
    version: string;
    op: string;
    etag: string;
  }>;
}

describe("the history tools", () => {
  it("are registered for a backend with the history methods, read ones only when read-only", async () => {
    const { client } = await start(new MemoryBackend({ history: true }));
    const tools = new Map((await client.listTools()).tools.map((tool) => [tool.name, tool]));
    for (const name of HISTORY_READ_TOOLS) {
      expect(tools.get(name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    expect(tools.get("restore_file")?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(tools.get("file_history")?.inputSchema.required).toEqual(["file_path"]);
    expect(tools.get("diff_file")?.inputSchema.required?.sort()).toEqual(["file_path", "from_version"]);
    await open?.close();
    open = await connect(new MemoryBackend({ history: true }), { readOnly: true });
    const readOnly = (await open.client.listTools()).tools.map((tool) => tool.name);
    expect(readOnly).toEqual(expect.arrayContaining([...HISTORY_READ_TOOLS]));
    expect(readOnly).not.toContain(HISTORY_WRITE_TOOLS[0]);
    const refused = await open.call("restore_file", { file_path: "/a.md", version: "v1" });
    expect(refused.isError).toBe(true);
  });

  it("keepsHistory says whether the store keeps history now", async () => {
    expect(await keepsHistory(new MemoryBackend({ history: true }))).toBe(true);
    expect(await keepsHistory(new MemoryBackend())).toBe(false);
  });

  it("lists versions, reads one, diffs versions and now, restores (honouring if_match)", async () => {
    const backend = new MemoryBackend({ history: true });
    const { call } = await start(backend);
    await call("write_file", { file_path: "/plan.md", content: "1. read\n2. write\n" });
    await call("edit_file", { file_path: "/plan.md", old_string: "write", new_string: "test" });
    const [edited, written] = await versionsOf(call, "/plan.md");
    expect([edited?.op, written?.op]).toEqual(["edit", "write"]);
    const listing = await call("file_history", { file_path: "/plan.md", limit: 1 });
    expect(textOf(listing)).toMatch(/^v\d+ {2}edit {2}16 bytes {2}\d{4}-/);
    expect(listing.structuredContent?.versions as unknown[]).toHaveLength(1);

    const old = await call("read_file_version", { file_path: "/plan.md", version: written?.version });
    expect(textOf(old)).toBe("1. read\n2. write\n");
    expect(old.structuredContent).toMatchObject({
      path: "/plan.md",
      version: written?.version,
      content: "1. read\n2. write\n",
    });

    const diff = await call("diff_file", { file_path: "/plan.md", from_version: written?.version });
    expect(textOf(diff)).toBe("--- a/plan.md\n+++ b/plan.md\n@@ -1,2 +1,2 @@\n 1. read\n-2. write\n+2. test\n");
    expect(diff.structuredContent).toMatchObject({ to_version: "current" });
    const same = await call("diff_file", {
      file_path: "/plan.md",
      from_version: edited?.version,
      to_version: edited?.version,
    });
    expect(textOf(same)).toContain("No differences");

    const stale = await call("restore_file", {
      file_path: "/plan.md",
      version: written?.version,
      if_match: written?.etag,
    });
    expect(stale.isError).toBe(true);
    expect(stale.structuredContent?.code).toBe("conflict");
    const restored = await call("restore_file", {
      file_path: "/plan.md",
      version: written?.version,
      if_match: edited?.etag,
    });
    expect(restored.isError).toBeFalsy();
    expect(textOf(restored)).toBe(`Restored '/plan.md' to ${written?.version}`);
    expect((await backend.read("/plan.md")).content).toBe("1. read\n2. write");
    expect((await versionsOf(call, "/plan.md"))[0]?.op).toBe("restore");
  });

  it("diffs across a delete and describes binary versions", async () => {
    const backend = new MemoryBackend({ history: true });
    const { call } = await start(backend);
    await backend.uploadFiles([["/logo.png", Uint8Array.from([0x89, 0x50, 0, 255])]]);
    await call("write_file", { file_path: "/gone.md", content: "bye\n" });
    await call("delete", { file_path: "/gone.md" });
    const [deleted, written] = await versionsOf(call, "/gone.md");
    expect(deleted?.op).toBe("delete");
    expect(textOf(await call("diff_file", { file_path: "/gone.md", from_version: written?.version }))).toBe(
      "--- a/gone.md\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-bye\n",
    );
    const unread = await call("read_file_version", { file_path: "/gone.md", version: deleted?.version });
    expect(unread.isError).toBe(true);
    const [png] = await versionsOf(call, "/logo.png");
    const binary = await call("read_file_version", { file_path: "/logo.png", version: png?.version });
    expect(binary.structuredContent).toMatchObject({ binary: true, size: 4 });
    expect(textOf(binary)).toContain("is binary (4 bytes)");
  });

  it("answers unsupported, unknown versions and traversal as isError results", async () => {
    const { call } = await start(new MemoryBackend());
    const off = await call("file_history", { file_path: "/a.md" });
    expect(off.isError).toBe(true);
    expect(off.structuredContent?.code).toBe("unsupported");
    await open?.close();
    open = await connect(new MemoryBackend({ history: true, files: { "/a.md": "a" } }));
    const unknown = await open.call("read_file_version", { file_path: "/a.md", version: "v999" });
    expect(unknown.structuredContent?.code).toBe("file_not_found");
    const traversal = await open.call("file_history", { file_path: "/../etc/passwd" });
    expect(traversal.isError).toBe(true);
    expect(["invalid_path", "invalid_argument"]).toContain(traversal.structuredContent?.code);
    expect((await open.call("ls", { path: "/" })).isError).toBeFalsy();
  });
});
