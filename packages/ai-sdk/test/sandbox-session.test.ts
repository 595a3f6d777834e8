import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSandboxBackend } from "@deepfs/core";
import { scriptedModel } from "@deepfs/harness/ai-sdk-model";
import { LocalBackend } from "@deepfs/local";
import { type Experimental_SandboxSession, generateText, jsonSchema, stepCountIs, tool } from "ai";
import { afterAll, describe, expect, it } from "vitest";
import { toSandboxSession } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "deepfs-ai-sdk-sandbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A local shell in `dir` (not a security sandbox): virtual `/` is `dir`, and commands start there.
const local = new LocalBackend({ rootDir: dir, execute: true });
if (!isSandboxBackend(local)) throw new Error("a LocalBackend with execute is a sandbox backend");
const sandbox = local;

/** A tool that reaches the sandbox only through the session the SDK hands it. */
const shell = tool({
  description: "Runs a shell command in the sandbox.",
  inputSchema: jsonSchema<{ command: string }>({
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  }),
  execute: async ({ command }, { experimental_sandbox }) => {
    if (!experimental_sandbox) return "no sandbox";
    await experimental_sandbox.writeTextFile({ path: "notes/plan.md", content: "one\ntwo\nthree\n" });
    const run = await experimental_sandbox.run({ command, env: { GREETING: "it's me" } });
    return `${run.exitCode}: ${run.stdout}`;
  },
});

describe("toSandboxSession", () => {
  it("is the sandbox generateText hands to tools", async () => {
    const session = toSandboxSession(sandbox);
    const { model, seen } = scriptedModel([
      [{ toolName: "shell", input: { command: 'cat notes/plan.md; echo "$GREETING"' } }],
    ]);
    const result = await generateText({
      model,
      tools: { shell },
      experimental_sandbox: session,
      stopWhen: stepCountIs(2),
      prompt: "Look at the plan.",
    });
    expect(result.text).toBe("done");
    expect(seen.results.get("call-0-0")).toBe("0: one\ntwo\nthree\nit's me\n");
    expect(readFileSync(join(dir, "notes", "plan.md"), "utf8")).toBe("one\ntwo\nthree\n");
  });

  it("reads, lists, stats and deletes files; missing files answer null or false", async () => {
    const session: Experimental_SandboxSession = toSandboxSession(sandbox, { workingDirectory: "/work" });
    await session.writeBinaryFile({ path: "bin/data.bin", content: new Uint8Array([0, 255, 1]) });
    expect(await session.readBinaryFile({ path: "/work/bin/data.bin" })).toEqual(new Uint8Array([0, 255, 1]));
    await session.writeTextFile({ path: "a.txt", content: "l1\nl2\nl3" });
    expect(await session.readTextFile({ path: "a.txt", startLine: 2, endLine: 3 })).toBe("l2\nl3");
    expect(await session.stat({ path: "bin" })).toMatchObject({ type: "directory" });
    expect(await session.stat({ path: "a.txt" })).toEqual({ type: "file", size: 8 });
    expect(await session.stat({ path: "nope" })).toBeNull();
    expect((await session.listDirectory({ path: "/work" }))?.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: "a.txt", type: "file" },
      { name: "bin", type: "directory" },
    ]);
    expect(await session.listDirectory({ path: "/missing" })).toBeNull();
    expect(await session.deleteFile({ path: "a.txt" })).toBe(true);
    expect(await session.deleteFile({ path: "a.txt" })).toBe(false);
    expect(await session.readTextFile({ path: "a.txt" })).toBeNull();
    await expect(session.deleteFile({ path: "bin" })).rejects.toMatchObject({ code: "is_directory" });
  });

  it("rejects escapes and unsupported requests with deepfs codes", async () => {
    const session = toSandboxSession(sandbox);
    await expect(session.readTextFile({ path: "/../etc/passwd" })).rejects.toMatchObject({ code: "invalid_path" });
    await expect(session.writeTextFile({ path: "..\\x", content: "x" })).rejects.toMatchObject({
      code: "invalid_path",
    });
    await expect(session.run({ command: "true", env: { "A;B": "x" } })).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(session.spawn({ command: "cat", stdin: true })).rejects.toMatchObject({ code: "unsupported" });
  });

  it("spawn answers the output when the command ends", async () => {
    const session = toSandboxSession(sandbox);
    const process = await session.spawn({ command: "echo spawned; exit 3" });
    expect(await process.wait()).toEqual({ exitCode: 3 });
    expect(await new Response(process.stdout).text()).toBe("spawned\n");
    expect(await new Response(process.stderr).text()).toBe("");
  });
});
