import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, tempDir } from "./support.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === "text" ? first.text : "";
}

async function stdioClient(args: string[]): Promise<{ client: Client; call: Call }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", ...args],
    stderr: "inherit",
  });
  const client = new Client({ name: "deepfs-cli-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, call: caller(client) };
}

type Call = (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;

function caller(client: Client): Call {
  return async (name, args = {}) => {
    try {
      return (await client.callTool({ name, arguments: args })) as CallToolResult;
    } catch (error) {
      // An unknown tool may come back as a protocol error rather than a tool result.
      return { isError: true, content: [{ type: "text", text: (error as Error).message }] };
    }
  };
}

describe("deepfs mcp over stdio", () => {
  it("serves memory: with every tool, error codes, and stays up", async () => {
    const { client, call } = await stdioClient(["memory:"]);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        "delete",
        "edit_file",
        "glob",
        "grep",
        "ls",
        "read_file",
        "write_file",
      ]);
      expect(tools.find((t) => t.name === "read_file")?.annotations?.readOnlyHint).toBe(true);
      expect(tools.find((t) => t.name === "delete")?.annotations?.destructiveHint).toBe(true);
      expect((await call("write_file", { file_path: "/notes/a.md", content: "# A\nTODO one\n" })).isError).toBeFalsy();
      expect(text(await call("read_file", { file_path: "/notes/a.md" }))).toBe("     1\t# A\n     2\tTODO one");
      expect(
        (await call("edit_file", { file_path: "/notes/a.md", old_string: "one", new_string: "two" })).structuredContent,
      ).toMatchObject({ occurrences: 1 });
      expect(text(await call("ls", { path: "/notes" }))).toMatch(/^\/notes\/a\.md \(\d+ bytes\)$/);
      expect(text(await call("glob", { pattern: "**/*.md" }))).toBe("/notes/a.md");
      expect(text(await call("grep", { pattern: "TODO two" }))).toBe("/notes/a.md:\n  2: TODO two");
      const traversal = await call("read_file", { file_path: "/notes/../../etc/passwd" });
      expect(traversal.isError).toBe(true);
      expect(traversal.structuredContent?.code).toBe("invalid_path");
      expect((await call("delete", { file_path: "/notes/a.md" })).isError).toBeFalsy();
      const gone = await call("read_file", { file_path: "/notes/a.md" });
      expect(gone.structuredContent).toMatchObject({ code: "file_not_found" });
      expect((await client.listTools()).tools).toHaveLength(7);
    } finally {
      await client.close();
    }
  });

  it("serves memory:?history=1 with the history tools: versions, a version's text, a diff, a restore", async () => {
    const { client, call } = await stdioClient(["memory:?history=1"]);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(["file_history", "read_file_version", "diff_file", "restore_file"]));
      expect(names).toHaveLength(11);
      await call("write_file", { file_path: "/plan.md", content: "step one\n" });
      await call("edit_file", { file_path: "/plan.md", old_string: "one", new_string: "two" });
      const history = await call("file_history", { file_path: "/plan.md" });
      const versions = history.structuredContent?.versions as Array<{ version: string; op: string }>;
      expect(versions.map((v) => v.op)).toEqual(["edit", "write"]);
      const first = versions[1]?.version;
      expect(text(await call("read_file_version", { file_path: "/plan.md", version: first }))).toBe("step one\n");
      expect(text(await call("diff_file", { file_path: "/plan.md", from_version: first }))).toContain(
        "-step one\n+step two\n",
      );
      expect((await call("restore_file", { file_path: "/plan.md", version: first })).isError).toBeFalsy();
      expect(text(await call("read_file", { file_path: "/plan.md" }))).toBe("     1\tstep one");
      const traversal = await call("file_history", { file_path: "/../etc/passwd" });
      expect(traversal.isError).toBe(true);
      expect((await call("ls", { path: "/" })).isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it("leaves the history tools out when the store keeps no history", async () => {
    const { client } = await stdioClient(["--read-only", "memory:"]);
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["glob", "grep", "ls", "read_file"]);
    } finally {
      await client.close();
    }
  });

  it("keeps a directory's clients inside it, and refuses writes with --read-only", async () => {
    const work = tempDir("mcp");
    dirs.push(work);
    mkdirSync(join(work, "root"));
    writeFileSync(join(work, "secret.txt"), "do not read\n");
    writeFileSync(join(work, "root", "a.txt"), "inside\n");
    const { client, call } = await stdioClient(["--read-only", join(work, "root")]);
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["glob", "grep", "ls", "read_file"]);
      const outside = await call("read_file", { file_path: "/../secret.txt" });
      expect(outside.isError).toBe(true);
      expect(JSON.stringify(outside)).not.toContain("do not read");
      const write = await call("write_file", { file_path: "/a.txt", content: "evil" });
      expect(write.isError).toBe(true);
      expect(readFileSync(join(work, "root", "a.txt"), "utf8")).toBe("inside\n");
      expect(text(await call("read_file", { file_path: "/a.txt" }))).toBe("     1\tinside");
    } finally {
      await client.close();
    }
  });
});

/** Starts `deepfs mcp ... --http 0` and answers the URL it printed. */
async function httpServer(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, "mcp", ...args, "--http", "0"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /on (http:\/\/\S+)/.exec(seen);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`deepfs mcp exited ${code}: ${seen}`)));
  });
  return { child, url };
}

function rawPost(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
  });
}

describe("deepfs mcp --http", () => {
  it("serves Streamable HTTP on 127.0.0.1, and checks the bearer token on every request", async () => {
    const token = "test-token-8f3a";
    const { child, url } = await httpServer(["memory:"], { DEEPFS_MCP_TOKEN: token });
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const client = new Client({ name: "deepfs-http-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { Authorization: `Bearer ${token}` } },
        }),
      );
      const call = caller(client);
      const { tools } = await client.listTools();
      expect(tools.find((t) => t.name === "grep")?.annotations).toMatchObject({ readOnlyHint: true });
      expect((await call("write_file", { file_path: "/x.md", content: "hello\n" })).isError).toBeFalsy();
      expect(text(await call("read_file", { file_path: "/x.md" }))).toBe("     1\thello");
      const bad = await call("read_file", { file_path: "/./x.md" });
      expect(bad.structuredContent?.code).toBe("invalid_path");
      expect(text(await call("grep", { pattern: "hello" }))).toBe("/x.md:\n  1: hello");
      await client.close();

      const anonymous = new Client({ name: "deepfs-http-test", version: "1.0.0" });
      await expect(anonymous.connect(new StreamableHTTPClientTransport(new URL(url)))).rejects.toThrow();
      expect(await rawPost(url, {})).toBe(401);
      expect(await rawPost(url, { authorization: "Bearer wrong" })).toBe(401);
      const host = new URL(url).host;
      expect(await rawPost(url, { authorization: `Bearer ${token}`, host: `evil.example:${host.split(":")[1]}` })).toBe(
        403,
      );
    } finally {
      child.kill("SIGTERM");
    }
    const status = await new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    expect(status).toBe(0);
  });

  it("without a token, serves anyone on this machine", async () => {
    const { child, url } = await httpServer(["memory:", "--read-only"], { DEEPFS_MCP_TOKEN: "" });
    try {
      const client = new Client({ name: "deepfs-http-test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["glob", "grep", "ls", "read_file"]);
      const write = await caller(client)("write_file", { file_path: "/x.md", content: "x" });
      expect(write.isError).toBe(true);
      expect((await client.listTools()).tools).toHaveLength(4);
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
  });
});
