import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEvent,
  type BackendProtocol,
  branch,
  CompositeBackend,
  StateBackend,
  withAudit,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { type ScriptedCall, scriptedModel } from "@deepfs/harness/ai-sdk-model";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { Agent } from "@mastra/core/agent";
import {
  callLifecycle,
  DirectoryNotEmptyError,
  DirectoryNotFoundError,
  FileExistsError,
  FileNotFoundError,
  IsDirectoryError,
  NotDirectoryError,
  PermissionError,
  StaleFileError,
  UnsupportedGrepPatternError,
  Workspace,
} from "@mastra/core/workspace";
import { afterAll, describe, expect, it } from "vitest";
import { DeepfsFilesystem, DeepfsFilesystemError } from "../src/index.js";

// The model an `Agent` takes: Mastra 1.71's `@ai-sdk/provider` (4.0.17) declarations differ in details from
// those of `ai` 7.0.185 (4.0.39); at run time Mastra drives the scripted AI SDK 7 model through `doGenerate`.
type AgentModel = ConstructorParameters<typeof Agent>[0]["model"];

const T = {
  read: "mastra_workspace_read_file",
  write: "mastra_workspace_write_file",
  edit: "mastra_workspace_edit_file",
  list: "mastra_workspace_list_files",
  del: "mastra_workspace_delete",
  stat: "mastra_workspace_file_stat",
  mkdir: "mastra_workspace_mkdir",
  grep: "mastra_workspace_grep",
} as const;

/** A Workspace over `backend`, initialised. */
async function workspaceOver(backend: BackendProtocol, options: { readOnly?: boolean } = {}) {
  const workspace = new Workspace({ filesystem: new DeepfsFilesystem({ backend, ...options }) });
  await workspace.init();
  return workspace;
}

/** A Mastra Agent driven by the scripted `model` over `workspace`. */
function agentOver(workspace: Workspace, model: ReturnType<typeof scriptedModel>["model"], instructions: string) {
  return new Agent({ id: "files", name: "files", instructions, model: model as unknown as AgentModel, workspace });
}

/** Runs a Mastra Agent with a scripted offline model over `workspace`; answers the tool results it saw, in call order. */
async function drive(workspace: Workspace, steps: ScriptedCall[][]) {
  const { model, resultsInOrder, maxSteps } = scriptedModel(steps);
  const agent = agentOver(workspace, model, "Work on the files.");
  const output = await agent.generate("Work on the files.", { maxSteps });
  return { text: output.text, results: resultsInOrder() };
}

const pgSkip = requireOrSkipReason("postgres");
const pgStatus = serviceStatus("postgres");
const pgUrl = () => (pgStatus.available ? (pgStatus.env.DEEPFS_PG_URL ?? "") : "");
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "deepfs-mastra-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function postgres(namespace: string, table?: string): PostgresBackend {
  const backend = new PostgresBackend({ url: pgUrl(), maxPoolSize: 2, namespace, ...(table ? { table } : {}) });
  cleanups.push(() => backend.close());
  return backend;
}

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const backends: Array<{ name: string; skip?: string; make: () => BackendProtocol }> = [
  { name: "StateBackend", make: () => new StateBackend() },
  { name: "LocalBackend", make: () => new LocalBackend({ rootDir: tempDir() }) },
  { name: "PostgresBackend", skip: pgSkip, make: () => postgres(`mastra_${unique()}`) },
];

for (const { name, skip, make } of backends) {
  describe.skipIf(skip !== undefined)(`Mastra workspace over ${name}`, () => {
    it("an Agent writes, reads, edits, lists, stats, greps and deletes through the workspace tools", async () => {
      const backend = make();
      const workspace = await workspaceOver(backend);
      const { text, results } = await drive(workspace, [
        [{ toolName: T.write, input: { path: "notes/a.md", content: "alpha\nbeta\n" } }],
        [{ toolName: T.read, input: { path: "notes/a.md" } }],
        [{ toolName: T.edit, input: { path: "/notes/a.md", old_string: "beta", new_string: "gamma" } }],
        [{ toolName: T.mkdir, input: { path: "empty" } }],
        [{ toolName: T.list, input: { path: "." } }],
        [{ toolName: T.stat, input: { path: "notes/a.md" } }],
        [{ toolName: T.grep, input: { pattern: "gam+a" } }],
        [{ toolName: T.del, input: { path: "notes/a.md" } }],
        [{ toolName: T.stat, input: { path: "notes/a.md" } }],
      ]);
      expect(text).toBe("done");
      expect(results[0]).toBe("Wrote 11 bytes to notes/a.md");
      expect(results[1]).toBe("/notes/a.md (11 bytes)\n     1→alpha\n     2→beta\n     3→");
      expect(results[2]).toBe("Replaced 1 occurrence in /notes/a.md (lines 2)");
      expect(results[3]).toBe("Created directory empty");
      expect(results[4]).toBe(".\nempty\nnotes\n\ta.md\n\n2 directories, 1 file");
      expect(results[5]).toMatch(/^notes\/a\.md Type: file Size: 12 bytes Modified: \d{4}-\d\d-\d\dT/);
      expect(results[6]).toBe("1 match across 1 file\n---\n./notes/a.md:2:1: gamma");
      expect(results[7]).toBe("Deleted notes/a.md");
      expect(results[8]).toBe("notes/a.md: not found");
      expect((await backend.ls("/notes")).files).toEqual([]);
    });

    it("a literal grep runs in the store (Mastra's native grep); a regex falls back to Mastra's own search", async () => {
      const backend = make();
      const patterns: string[] = [];
      const counted = new Proxy(backend, {
        get(target, key) {
          const value = Reflect.get(target, key, target);
          if (typeof value !== "function") return value;
          if (key !== "grep") return value.bind(target);
          return (...args: Parameters<BackendProtocol["grep"]>) => {
            patterns.push(args[0]);
            return value.apply(target, args);
          };
        },
      });
      await backend.write("/src/a.ts", "// TODO one\nconst x = 1; // TODO two\n");
      await backend.write("/src/.hidden/b.ts", "TODO hidden\n");
      await backend.write("/docs/c.md", "no match\nTODO: docs\n");
      const workspace = await workspaceOver(counted);
      const { results } = await drive(workspace, [
        [{ toolName: T.grep, input: { pattern: "TODO" } }],
        [{ toolName: T.grep, input: { pattern: "TO+DO" } }],
        [{ toolName: T.grep, input: { pattern: "TODO", path: "src", maxCount: 1 } }],
      ]);
      const expected =
        "3 matches across 2 files\n---\n./docs/c.md:2:1: TODO: docs\n./src/a.ts:1:4: // TODO one\n./src/a.ts:2:17: const x = 1; // TODO two";
      expect(results[0]).toBe(expected);
      expect(results[1]).toBe(expected);
      expect(results[2]).toBe("1 match across 1 file\n---\nsrc/a.ts:1:4: // TODO one");
      expect(patterns).toEqual(["TODO", "TODO"]);

      const fs = workspace.filesystem as DeepfsFilesystem;
      const options = { path: "/", caseSensitive: true, includeHidden: true };
      expect(await fs.grep({ ...options, pattern: "TODO", maxCountPerFile: 1, maxTotalMatches: 2 })).toEqual([
        { path: "docs/c.md", matches: [{ line: 2, column: 0, text: "TODO: docs" }] },
        { path: "src/.hidden/b.ts", matches: [{ line: 1, column: 0, text: "TODO hidden" }] },
      ]);
      await expect(fs.grep({ ...options, pattern: "to.o" })).rejects.toBeInstanceOf(UnsupportedGrepPatternError);
      await expect(fs.grep({ ...options, pattern: "todo", caseSensitive: false })).rejects.toBeInstanceOf(
        UnsupportedGrepPatternError,
      );
      await expect(fs.grep({ ...options, pattern: "TODO", contextLines: 1 })).rejects.toBeInstanceOf(
        UnsupportedGrepPatternError,
      );
    });

    it("a file changed by someone else after the agent read it is not overwritten by the agent's edit", async () => {
      const backend = make();
      await backend.write("/plan.md", "step one\n");
      const workspace = await workspaceOver(backend);
      const { model, resultsInOrder, maxSteps } = scriptedModel([
        [{ toolName: T.read, input: { path: "plan.md" } }],
        [{ toolName: T.edit, input: { path: "plan.md", old_string: "one", new_string: "two" } }],
      ]);
      const agent = agentOver(workspace, model, "Edit.");
      // Someone else writes the file between the agent's read and its edit (the model's second call).
      const generate = model as unknown as { doGenerate: (options: unknown) => Promise<unknown> };
      const original = generate.doGenerate.bind(model);
      let calls = 0;
      generate.doGenerate = async (options) => {
        if (++calls === 2) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          await backend.write("/plan.md", "step one (checked by a reviewer)\n");
        }
        return original(options);
      };
      await agent.generate("Edit the plan.", { maxSteps });
      const results = resultsInOrder();
      expect(results[1]).toMatch(/^File was modified externally: plan\.md \(expected mtime .*, actual .*\)$/);
      expect((await backend.read("/plan.md")).content).toBe("step one (checked by a reviewer)");
    });

    it("answers escape attempts with an error the model sees and touches nothing", async () => {
      const backend = make();
      const workspace = await workspaceOver(backend);
      const { results } = await drive(workspace, [
        [
          { toolName: T.read, input: { path: "../../etc/passwd" } },
          { toolName: T.write, input: { path: "/a/../../x", content: "x" } },
          { toolName: T.list, input: { path: "../.." } },
          { toolName: T.write, input: { path: "..\\x", content: "x" } },
        ],
      ]);
      expect(results[0]).toMatch(/^Permission denied: .*outside the workspace.* on \.\.\/\.\.\/etc\/passwd$/);
      expect(results[1]).toMatch(/^Permission denied: .*outside the workspace.* on \/a\/\.\.\/\.\.\/x$/);
      expect(results[2]).toMatch(/^Permission denied: .*outside the workspace.* on \.\.\/\.\.$/);
      expect(results[3]).toMatch(/Invalid path .*use '\/' as the separator/);
      expect((await backend.glob("**")).files).toEqual([]);
      await expect(workspace.filesystem?.readFile("../../etc/passwd")).rejects.toBeInstanceOf(PermissionError);
      await expect(workspace.filesystem?.exists("/a/../../x")).rejects.toBeInstanceOf(PermissionError);
      await expect(workspace.filesystem?.readFile("a/\u0000b")).rejects.toMatchObject({
        code: "EINVAL",
        deepfsCode: "invalid_path",
      });
    });

    it("meets what Mastra's own provider suite expects (lifecycle, directories, content, timestamps)", async () => {
      const fs = new DeepfsFilesystem({ backend: make(), displayName: "Files" });
      expect(fs.status).toBe("pending");
      await callLifecycle(fs, "init");
      expect(fs.status).toBe("ready");
      expect(fs.getInfo()).toMatchObject({
        provider: "deepfs",
        name: "DeepfsFilesystem",
        status: "ready",
        readOnly: false,
      });
      const root = `/fs-test-${unique()}`;
      await fs.mkdir(`${root}/a/b/c/d`, { recursive: true });
      await fs.mkdir(`${root}/a/b/c/d`, { recursive: true });
      expect((await fs.stat(`${root}/a/b/c/d`)).type).toBe("directory");
      expect((await fs.stat(`${root}/a/b`)).name).toBe("b");
      expect(await fs.readdir(`${root}/a/b/c/d`)).toEqual([]);
      await expect(fs.readFile(`${root}/a/b/c/d`)).rejects.toBeInstanceOf(IsDirectoryError);
      await fs.rmdir(`${root}/a/b/c/d`);
      expect(await fs.exists(`${root}/a/b/c/d`)).toBe(false);
      expect(await fs.exists(`${root}/a/b/c`)).toBe(true);

      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await fs.writeFile(`${root}/binary-file.bin`, bytes);
      const read = await fs.readFile(`${root}/binary-file.bin`);
      expect(typeof read).not.toBe("string");
      expect(Buffer.from(read as Buffer).equals(bytes)).toBe(true);
      const unicode = "你好世界 🌍 مرحبا";
      await fs.writeFile(`${root}/unicode.txt`, unicode);
      expect(await fs.readFile(`${root}/unicode.txt`, { encoding: "utf-8" })).toBe(unicode);
      await fs.writeFile(`${root}/empty.txt`, "");
      expect(await fs.readFile(`${root}/empty.txt`, { encoding: "utf-8" })).toBe("");
      const large = "0123456789abcdef\n".repeat(65_536);
      const before = Date.now();
      await fs.writeFile(`${root}/large-file.txt`, large);
      expect((await fs.readFile(`${root}/large-file.txt`, { encoding: "utf-8" })).length).toBe(large.length);
      const stat = await fs.stat(`${root}/large-file.txt`);
      expect(stat.size).toBe(large.length);
      expect(stat.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(stat.createdAt).toBeInstanceOf(Date);

      await fs.mkdir(`${root}/dir-with-contents/subdir`);
      await fs.writeFile(`${root}/dir-with-contents/file1.txt`, "content1");
      await fs.writeFile(`${root}/dir-with-contents/subdir/file3.txt`, "content3");
      await fs.rmdir(`${root}/dir-with-contents`, { recursive: true });
      expect(await fs.exists(`${root}/dir-with-contents`)).toBe(false);
      expect(await fs.exists(`${root}/dir-with-contents/subdir`)).toBe(false);
      await fs.rmdir(root, { recursive: true });
      expect(await fs.exists(root)).toBe(false);
      await callLifecycle(fs, "destroy");
      expect(fs.status).toBe("destroyed");
    });

    it("implements the filesystem members Mastra calls outside its tools", async () => {
      const backend = make();
      const fs = (await workspaceOver(backend)).filesystem as DeepfsFilesystem;
      await fs.writeFile("src/app.ts", "export {}\n");
      await expect(fs.writeFile("src/app.ts", "again", { overwrite: false })).rejects.toBeInstanceOf(FileExistsError);
      await expect(fs.writeFile("nowhere/x.ts", "x", { recursive: false })).rejects.toBeInstanceOf(
        DirectoryNotFoundError,
      );
      expect(await fs.readFile("src/app.ts", { encoding: "utf8" })).toBe("export {}\n");
      await fs.appendFile("src/app.ts", "// more\n");
      await fs.appendFile("src/new.ts", "first\n");
      expect(await fs.readFile("/src/app.ts", { encoding: "utf8" })).toBe("export {}\n// more\n");
      expect(await fs.readFile("src/new.ts", { encoding: "utf8" })).toBe("first\n");

      const stat = await fs.stat("src/app.ts");
      expect(stat).toMatchObject({ name: "app.ts", path: "/src/app.ts", type: "file", size: 18 });
      expect((await fs.stat("src")).type).toBe("directory");
      expect((await fs.stat("/")).type).toBe("directory");
      expect(await fs.exists("src/app.ts")).toBe(true);
      expect(await fs.exists("src/missing.ts")).toBe(false);
      await expect(fs.stat("src/missing.ts")).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(fs.readFile("src")).rejects.toBeInstanceOf(IsDirectoryError);
      await expect(fs.readdir("src/app.ts")).rejects.toBeInstanceOf(NotDirectoryError);
      await expect(fs.readdir("missing")).rejects.toBeInstanceOf(DirectoryNotFoundError);

      // expectedMtime: the mtime read with the file must still be the file's, else StaleFileError.
      await expect(
        fs.writeFile("src/app.ts", "stale", { expectedMtime: new Date(stat.modifiedAt.getTime() - 60_000) }),
      ).rejects.toBeInstanceOf(StaleFileError);
      await fs.writeFile("src/app.ts", "fresh\n", { expectedMtime: stat.modifiedAt });
      expect(await fs.readFile("src/app.ts", { encoding: "utf8" })).toBe("fresh\n");

      // Exact bytes: a binary path and invalid UTF-8 on a text path.
      const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255, 128, 10]);
      const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]);
      await fs.writeFile("img/logo.png", png);
      await fs.writeFile("legacy.txt", Buffer.from(latin1));
      expect(new Uint8Array((await fs.readFile("img/logo.png")) as Buffer)).toEqual(png);
      expect((await fs.stat("img/logo.png")).mimeType).toBe("image/png");
      expect((await fs.stat("legacy.txt")).mimeType).toBe("text/plain");
      expect(new Uint8Array((await fs.readFile("legacy.txt")) as Buffer)).toEqual(latin1);
      await expect(fs.writeFile("legacy.txt", latin1, { overwrite: false })).rejects.toBeInstanceOf(FileExistsError);

      // mkdir: recorded until a file lands below it; rmdir refuses a non-empty directory.
      await fs.mkdir("made/deeper");
      expect(await fs.readdir("made")).toEqual([{ name: "deeper", type: "directory" }]);
      await expect(fs.mkdir("src/app.ts")).rejects.toBeInstanceOf(FileExistsError);
      await expect(fs.mkdir("x/y", { recursive: false })).rejects.toBeInstanceOf(DirectoryNotFoundError);
      await fs.writeFile("made/deeper/kept.md", "kept\n", { recursive: false });
      await expect(fs.rmdir("made")).rejects.toBeInstanceOf(DirectoryNotEmptyError);

      // copy and move, files and trees.
      await fs.copyFile("src/app.ts", "copy/app.ts");
      await expect(fs.copyFile("src/app.ts", "copy/app.ts", { overwrite: false })).rejects.toBeInstanceOf(
        FileExistsError,
      );
      await expect(fs.copyFile("src", "src2")).rejects.toBeInstanceOf(IsDirectoryError);
      await fs.copyFile("src", "src2", { recursive: true });
      await fs.moveFile("copy/app.ts", "moved.ts");
      await fs.moveFile("made", "archive/made");
      await expect(fs.moveFile("missing.ts", "x.ts")).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(fs.moveFile("src2/app.ts", "moved.ts", { overwrite: false })).rejects.toBeInstanceOf(
        FileExistsError,
      );

      expect(await fs.readdir("/", { recursive: true })).toEqual(
        [
          { name: "archive", type: "directory" },
          { name: "archive/made", type: "directory" },
          { name: "archive/made/deeper", type: "directory" },
          { name: "archive/made/deeper/kept.md", type: "file", size: 5 },
          { name: "copy", type: "directory" },
          { name: "img", type: "directory" },
          { name: "img/logo.png", type: "file", size: 8 },
          { name: "legacy.txt", type: "file", size: 5 },
          { name: "moved.ts", type: "file", size: 6 },
          { name: "src", type: "directory" },
          { name: "src/app.ts", type: "file", size: 6 },
          { name: "src/new.ts", type: "file", size: 6 },
          { name: "src2", type: "directory" },
          { name: "src2/app.ts", type: "file", size: 6 },
          { name: "src2/new.ts", type: "file", size: 6 },
        ].filter((e) => e.name !== "copy" || name === "LocalBackend"),
      );
      expect((await fs.readdir("src2", { extension: ".ts" })).map((e) => e.name)).toEqual(["app.ts", "new.ts"]);
      expect((await fs.readdir("/", { extension: "md" })).map((e) => e.name)).not.toContain("legacy.txt");

      await expect(fs.deleteFile("src")).rejects.toBeInstanceOf(IsDirectoryError);
      await expect(fs.deleteFile("gone.ts")).rejects.toBeInstanceOf(FileNotFoundError);
      await fs.deleteFile("gone.ts", { force: true });
      await fs.rmdir("src2", { recursive: true });
      await expect(fs.rmdir("src2")).rejects.toBeInstanceOf(DirectoryNotFoundError);
      await fs.rmdir("src2", { force: true });
      expect(await fs.exists("src2")).toBe(false);
      expect((await backend.glob("**", "/src2")).files).toEqual([]);
      expect(await fs.realpath("./src/../src/app.ts")).toBe("/src/app.ts");
      await expect(fs.rmdir("/", { recursive: true })).rejects.toBeInstanceOf(PermissionError);
      expect(await fs.exists("src/app.ts")).toBe(true);
    });
  });
}

describe("routes, layers and tenants", () => {
  it("a write under a read-only route of a CompositeBackend is an error the model sees", async () => {
    const shared = new StateBackend();
    await shared.write("/guide.md", "read me\n");
    const backend = new CompositeBackend(new StateBackend(), { "/reference/": { backend: shared, readOnly: true } });
    const workspace = await workspaceOver(backend);
    const { results } = await drive(workspace, [
      [{ toolName: T.read, input: { path: "reference/guide.md" } }],
      [{ toolName: T.write, input: { path: "reference/guide.md", content: "overwritten" } }],
      [{ toolName: T.edit, input: { path: "reference/guide.md", old_string: "read", new_string: "edit" } }],
      [{ toolName: T.del, input: { path: "reference/guide.md" } }],
      [{ toolName: T.write, input: { path: "scratch.md", content: "ok" } }],
    ]);
    expect(results[0]).toBe("/reference/guide.md (8 bytes)\n     1→read me\n     2→");
    expect(results[1]).toBe("Permission denied: write (read-only) on reference/guide.md");
    expect(results[2]).toBe("Permission denied: write (read-only) on reference/guide.md");
    expect(results[3]).toBe("Permission denied: delete (read-only) on reference/guide.md");
    expect(results[4]).toBe("Wrote 2 bytes to scratch.md");
    expect((await shared.read("/guide.md")).content).toBe("read me");
  });

  it("a read-only DeepfsFilesystem refuses mutations: PermissionError, and Mastra offers no write tools", async () => {
    const backend = new StateBackend();
    await backend.write("/kept.md", "kept\n");
    const workspace = await workspaceOver(backend, { readOnly: true });
    const fs = workspace.filesystem as DeepfsFilesystem;
    expect(fs.readOnly).toBe(true);
    await expect(fs.writeFile("a.md", "x")).rejects.toBeInstanceOf(PermissionError);
    await expect(fs.deleteFile("kept.md")).rejects.toThrow(
      "Permission denied: deleteFile (filesystem is read-only) on kept.md",
    );
    await expect(fs.mkdir("d")).rejects.toBeInstanceOf(PermissionError);
    await expect(fs.moveFile("kept.md", "moved.md")).rejects.toBeInstanceOf(PermissionError);
    const { results } = await drive(workspace, [
      [{ toolName: T.list, input: { path: "." } }],
      [{ toolName: T.write, input: { path: "kept.md", content: "changed" } }],
    ]);
    expect(results[0]).toBe(".\nkept.md\n\n0 directories, 1 file");
    // A read-only workspace offers the model no write tools at all.
    expect(results[1]).toMatch(
      /^Tool "mastra_workspace_write_file" not found\. Available tools: mastra_workspace_read_file, /,
    );
    expect((await backend.read("/kept.md")).content).toBe("kept");
    expect(
      new DeepfsFilesystem({ backend: new CompositeBackend({ default: new StateBackend(), routes: {} }) }).readOnly,
    ).toBe(false);
  });

  it("withPermissions and withQuota refusals reach the model as Mastra errors", async () => {
    const guarded = withQuota(
      withPermissions(new StateBackend(), {
        rules: [{ action: "deny", operations: ["read", "write"], paths: ["/secret/**"] }],
      }),
      { maxFileSize: 10 },
    );
    const { results } = await drive(await workspaceOver(guarded), [
      [{ toolName: T.write, input: { path: "secret/key.txt", content: "k" } }],
      [{ toolName: T.write, input: { path: "big.txt", content: "x".repeat(11) } }],
      [{ toolName: T.write, input: { path: "small.txt", content: "x".repeat(10) } }],
    ]);
    expect(results[0]).toBe("Permission denied: write on secret/key.txt");
    expect(results[1]).toMatch(/maxFileSize is 10 bytes/);
    expect(results[2]).toBe("Wrote 10 bytes to small.txt");
    const fs = new DeepfsFilesystem({ backend: guarded });
    await expect(fs.writeFile("big.txt", "x".repeat(11))).rejects.toMatchObject({
      code: "EFBIG",
      deepfsCode: "too_large",
    });
    await expect(fs.writeFile("big.txt", "x".repeat(11))).rejects.toBeInstanceOf(DeepfsFilesystemError);
  });

  it("an agent works on a branch of a base behind an audit layer; the base changes only on commit", async () => {
    const base = new StateBackend();
    await base.write("/readme.md", "hello\n");
    const work = branch(base);
    const events: AuditEvent[] = [];
    const workspace = await workspaceOver(withAudit(work, { onAudit: (e) => void events.push(e), actor: "mastra" }));
    const { results } = await drive(workspace, [
      [{ toolName: T.read, input: { path: "readme.md" } }],
      [{ toolName: T.edit, input: { path: "readme.md", old_string: "hello", new_string: "hello, branch" } }],
      [{ toolName: T.write, input: { path: "new.md", content: "new\n" } }],
      [{ toolName: T.del, input: { path: "readme.md" } }],
    ]);
    expect(results.slice(1)).toEqual([
      "Replaced 1 occurrence in readme.md (lines 1)",
      "Wrote 4 bytes to new.md",
      "Deleted readme.md",
    ]);
    expect((await base.read("/readme.md")).content).toBe("hello");
    expect((await work.changes()).changes.map((c) => [c.path, c.change])).toEqual([
      ["/new.md", "added"],
      ["/readme.md", "deleted"],
    ]);
    expect(events.map((e) => [e.operation, e.path, e.actor, e.outcome])).toEqual([
      ["write", "/readme.md", "mastra", "done"],
      ["write", "/new.md", "mastra", "done"],
      ["delete", "/readme.md", "mastra", "done"],
    ]);
    expect((await work.commit()).conflicts).toEqual([]);
    expect((await base.glob("**")).files?.map((f) => f.path)).toEqual(["/new.md"]);
  });

  it.skipIf(pgSkip !== undefined)(
    "two PostgresBackend namespaces on one table do not see each other's files",
    async () => {
      const table = `mastra_tenants_${unique()}`;
      const acme = await workspaceOver(postgres("acme", table));
      const acmeCorp = await workspaceOver(postgres("acme-corp", table));
      const wrote = await drive(acme, [[{ toolName: T.write, input: { path: "plan.md", content: "acme only\n" } }]]);
      expect(wrote.results[0]).toBe("Wrote 10 bytes to plan.md");
      const { results } = await drive(acmeCorp, [
        [{ toolName: T.read, input: { path: "plan.md" } }],
        [{ toolName: T.list, input: { path: "." } }],
        [{ toolName: T.grep, input: { pattern: "acme" } }],
      ]);
      expect(results[0]).toBe("File not found: plan.md");
      expect(results[1]).toBe(".\n\n0 directories, 0 files");
      expect(results[2]).toBe("0 matches across 0 files\n---");
      expect(await acme.filesystem?.readFile("plan.md", { encoding: "utf8" })).toBe("acme only\n");
      expect(await acmeCorp.filesystem?.exists("plan.md")).toBe(false);
    },
  );
});
