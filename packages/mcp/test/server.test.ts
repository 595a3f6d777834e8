import { type ExecuteResponse, MemoryBackend, type SandboxBackendProtocol } from "@deepfs/core";
import { afterEach, describe, expect, it } from "vitest";
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

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255, 254]);

describe("createMcpServer", () => {
  it("lists the deepagents file tools with schemas and annotations", async () => {
    const { client } = await start(new MemoryBackend(), { history: false });
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect([...byName.keys()].sort()).toEqual(["delete", "edit_file", "glob", "grep", "ls", "read_file", "write_file"]);
    for (const name of ["ls", "read_file", "glob", "grep"]) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    for (const name of ["write_file", "edit_file", "delete"]) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    }
    expect(byName.get("write_file")?.annotations?.idempotentHint).toBe(true);
    expect(byName.get("edit_file")?.annotations?.idempotentHint).toBe(false);
    const read = byName.get("read_file");
    expect(read?.inputSchema.required).toEqual(["file_path"]);
    expect(Object.keys(read?.inputSchema.properties ?? {}).sort()).toEqual(["file_path", "limit", "offset"]);
    expect(read?.outputSchema?.properties).toHaveProperty("nextOffset");
    expect(byName.get("edit_file")?.inputSchema.required?.sort()).toEqual(["file_path", "new_string", "old_string"]);
  });

  it("writes, reads (line-numbered, paged), edits, lists, globs, greps and deletes", async () => {
    const { call } = await start(new MemoryBackend());
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n");
    const written = await call("write_file", { file_path: "/src/a.txt", content: `${lines}\n` });
    expect(written.isError).toBeFalsy();
    expect(written.structuredContent).toMatchObject({ path: "/src/a.txt" });
    expect(typeof written.structuredContent?.etag).toBe("string");

    const page = await call("read_file", { file_path: "/src/a.txt", offset: 2, limit: 3 });
    expect(textOf(page)).toBe(
      "     3\tline 3\n     4\tline 4\n     5\tline 5\n\n[Showing lines 3-5 of 12; continue with offset=5]",
    );
    expect(page.structuredContent).toMatchObject({
      path: "/src/a.txt",
      content: "line 3\nline 4\nline 5",
      startLine: 3,
      endLine: 5,
      totalLines: 12,
      nextOffset: 5,
    });
    const whole = await call("read_file", { file_path: "/src/a.txt" });
    expect(whole.structuredContent?.nextOffset).toBeUndefined();
    expect(textOf(whole).split("\n")).toHaveLength(12);

    const edited = await call("edit_file", { file_path: "/src/a.txt", old_string: "line 7\n", new_string: "seven\n" });
    expect(edited.structuredContent).toMatchObject({ path: "/src/a.txt", occurrences: 1 });
    expect(textOf(edited)).toBe("Successfully replaced 1 occurrence(s) in '/src/a.txt'");

    await call("write_file", { file_path: "/src/deep/b.py", content: "print('seven')\n" });
    const ls = await call("ls", { path: "/src" });
    expect(ls.structuredContent?.files).toEqual([
      expect.objectContaining({ path: "/src/a.txt", is_dir: false }),
      expect.objectContaining({ path: "/src/deep/", is_dir: true }),
    ]);
    expect(textOf(ls)).toMatch(/^\/src\/a\.txt \(\d+ bytes\)\n\/src\/deep\/ \(directory\)$/);

    const glob = await call("glob", { pattern: "**/*.py" });
    expect(textOf(glob)).toBe("/src/deep/b.py");
    expect(glob.structuredContent).toMatchObject({ truncated: false });

    const grep = await call("grep", { pattern: "seven", path: "/src" });
    expect(grep.structuredContent?.matches).toEqual([
      { path: "/src/a.txt", line: 7, text: "seven" },
      { path: "/src/deep/b.py", line: 1, text: "print('seven')" },
    ]);
    expect(textOf(grep)).toBe("/src/a.txt:\n  7: seven\n/src/deep/b.py:\n  1: print('seven')");
    const files = await call("grep", { pattern: "seven", glob: "*.py", output_mode: "files_with_matches" });
    expect(textOf(files)).toBe("/src/deep/b.py");
    const capped = await call("grep", { pattern: "line", max_count: 2 });
    expect(capped.structuredContent).toMatchObject({ truncated: true });
    expect(textOf(capped)).toContain("More matches exist");

    const deleted = await call("delete", { file_path: "/src/deep" });
    expect(deleted.structuredContent).toMatchObject({ path: "/src/deep" });
    expect(textOf(await call("glob", { pattern: "**/*.py" }))).toBe("No files found matching pattern '**/*.py'");
  });

  it("answers failures as isError results with the deepfs code, and keeps serving", async () => {
    const { call } = await start(new MemoryBackend({ files: { "/a.md": "x x\n" } }));
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["read_file", { file_path: "/missing.md" }, "file_not_found"],
      ["read_file", { file_path: "/../etc/passwd" }, "invalid_path"],
      ["write_file", { file_path: "/a/../../escape.md", content: "x" }, "invalid_path"],
      ["edit_file", { file_path: "/a.md", old_string: "x", new_string: "y" }, "multiple_occurrences"],
      ["edit_file", { file_path: "/a.md", old_string: "zzz", new_string: "y" }, "string_not_found"],
      ["delete", { file_path: "/nothing" }, "file_not_found"],
      ["grep", { pattern: "x", glob: "../*" }, "invalid_path"],
      ["glob", { pattern: "../**" }, "invalid_path"],
    ];
    for (const [tool, args, code] of cases) {
      const result = await call(tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      const actual = result.structuredContent?.code;
      expect([code, "invalid_argument"]).toContain(actual);
      if (code !== "invalid_path") expect(actual).toBe(code);
      expect(textOf(result)).toMatch(new RegExp(`^Error \\[${String(actual)}\\]: .+`));
      expect(typeof result.structuredContent?.error).toBe("string");
    }
    const invalid = await call("read_file", { file_path: "/a.md", offset: -1 });
    expect(invalid.isError).toBe(true);
    expect(textOf(await call("read_file", { file_path: "/a.md" }))).toBe("     1\tx x");
  });

  it("turns a backend that throws into an isError result", async () => {
    const backend = new MemoryBackend();
    backend.ls = () => {
      throw new Error("connection reset");
    };
    const { call } = await start(backend);
    const result = await call("ls", { path: "/" });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toEqual({ error: "connection reset", code: "backend_unavailable" });
    expect((await call("glob", { pattern: "*" })).isError).toBeFalsy();
  });

  it("returns an image as image content, and describes other binary files", async () => {
    const backend = new MemoryBackend();
    await backend.uploadFiles([
      ["/logo.png", PNG],
      ["/doc.pdf", PNG],
    ]);
    const { call } = await start(backend);
    const image = await call("read_file", { file_path: "/logo.png" });
    expect(image.content).toEqual([
      { type: "image", mimeType: "image/png", data: Buffer.from(PNG).toString("base64") },
    ]);
    expect(image.structuredContent).toMatchObject({ binary: true, size: PNG.byteLength, mimeType: "image/png" });
    const pdf = await call("read_file", { file_path: "/doc.pdf" });
    expect(textOf(pdf)).toBe(
      "'/doc.pdf' is a binary file (application/pdf, 13 bytes); its bytes are not shown as text.",
    );
    const { close } = open as Connection;
    await close();
    open = await connect(backend, { maxImageBytes: 4 });
    const tooBig = await open.call("read_file", { file_path: "/logo.png" });
    expect(tooBig.structuredContent?.code).toBe("too_large");
  });

  it("in read-only mode registers only the read tools and refuses writes", async () => {
    const backend = new MemoryBackend({ files: { "/keep.md": "keep\n" } });
    const { client, call } = await start(backend, { readOnly: true, allowExecute: true, history: false });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["glob", "grep", "ls", "read_file"]);
    for (const [tool, args] of [
      ["write_file", { file_path: "/keep.md", content: "evil" }],
      ["edit_file", { file_path: "/keep.md", old_string: "keep", new_string: "evil" }],
      ["delete", { file_path: "/keep.md" }],
    ] as const) {
      const refused = await call(tool, args);
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain(tool);
    }
    expect((await backend.read("/keep.md")).content).toBe("keep");
    expect(textOf(await call("read_file", { file_path: "/keep.md" }))).toBe("     1\tkeep");
  });

  it("adds execute only for a sandbox, when allowed", async () => {
    const commands: string[] = [];
    const sandbox = Object.assign(new MemoryBackend(), {
      id: "fake-sandbox",
      execute: async (command: string): Promise<ExecuteResponse> => {
        commands.push(command);
        return { output: "hello\n", exitCode: 0, truncated: false };
      },
    }) as MemoryBackend & SandboxBackendProtocol;
    const without = await start(sandbox);
    expect((await without.client.listTools()).tools.map((t) => t.name)).not.toContain("execute");
    await without.close();
    open = await connect(new MemoryBackend(), { allowExecute: true });
    expect((await open.client.listTools()).tools.map((t) => t.name)).not.toContain("execute");
    await open.close();
    open = await connect(sandbox, { allowExecute: true });
    const tool = (await open.client.listTools()).tools.find((t) => t.name === "execute");
    expect(tool?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    const result = await open.call("execute", { command: "echo hello" });
    expect(result.structuredContent).toEqual({ output: "hello\n", exitCode: 0, truncated: false });
    expect(textOf(result)).toBe("hello\n\n[exit code 0]");
    expect(commands).toEqual(["echo hello"]);
  });
});
