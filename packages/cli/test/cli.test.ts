import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/index.js";
import { binaryBytes, deepfs, readTree, tempDir, writeTree } from "./support.js";

let dir: string;

beforeAll(() => {
  dir = tempDir("local");
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "src", "app.py"), "import os\n# TODO: fix\nprint('hi')\n");
  writeFileSync(join(dir, "src", "util.ts"), "export const x = 1; // TODO\n");
  writeFileSync(join(dir, "notes.md"), "# Notes\nTODO later\n");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("deepfs on a local directory", () => {
  it("ls lists the direct children, and --json gives the files", async () => {
    const text = await deepfs(["ls", `${dir}/`]);
    expect(text.status).toBe(0);
    expect(text.text.split("\n").filter(Boolean)).toEqual([`${dir}/notes.md`, `${dir}/src/`]);
    const json = await deepfs(["--json", "ls", "src"], { cwd: dir });
    expect(json.status).toBe(0);
    const document = JSON.parse(json.text);
    expect(document.path).toBe(`${dir}/src`);
    expect(document.files.map((f: { path: string }) => f.path)).toEqual([`${dir}/src/app.py`, `${dir}/src/util.ts`]);
    expect(document.files[0]).toMatchObject({ is_dir: false, size: 34 });
  });

  it("put and cat keep every byte", async () => {
    const bytes = binaryBytes(70_000);
    const put = await deepfs(["put", "./blob.bin"], { cwd: dir, input: bytes });
    expect(put.stderr).toBe("");
    expect(put.status).toBe(0);
    expect(readFileSync(join(dir, "blob.bin")).equals(bytes)).toBe(true);
    const cat = await deepfs(["cat", join(dir, "blob.bin")]);
    expect(cat.status).toBe(0);
    expect(cat.stdout.equals(bytes)).toBe(true);
    const json = JSON.parse((await deepfs(["cat", "--json", join(dir, "blob.bin")])).text);
    expect(Buffer.from(json.files[0].base64, "base64").equals(bytes)).toBe(true);
  });

  it("grep prints path:line:text and exits 0, 1 or 2 as ripgrep does", async () => {
    const found = await deepfs(["grep", "TODO", dir]);
    expect(found.status).toBe(0);
    expect(found.text).toBe(
      [
        `${dir}/notes.md:2:TODO later`,
        `${dir}/src/app.py:2:# TODO: fix`,
        `${dir}/src/util.ts:1:export const x = 1; // TODO`,
        "",
      ].join("\n"),
    );
    const filtered = await deepfs(["grep", "TODO", dir, "--glob", "*.py"]);
    expect(filtered.text).toBe(`${dir}/src/app.py:2:# TODO: fix\n`);
    const capped = await deepfs(["grep", "--json", "-m", "1", "TODO", dir]);
    expect(JSON.parse(capped.text)).toEqual({
      matches: [{ path: `${dir}/notes.md`, line: 2, text: "TODO later" }],
      truncated: true,
    });
    const none = await deepfs(["grep", "no such text", dir]);
    expect(none.status).toBe(1);
    expect(none.text).toBe("");
    const error = await deepfs(["grep", "TODO", `${dir}/src`, "--glob", "../*"]);
    expect(error.status).toBe(2);
    expect(error.stderr).toMatch(/^deepfs: error\[invalid_(path|argument)\] .*\(hint: .*\)\n$/);
  });

  it("glob lists matching files", async () => {
    const result = await deepfs(["glob", "**/*.ts", dir]);
    expect(result.status).toBe(0);
    expect(result.text).toBe(`${dir}/src/util.ts\n`);
  });

  it("edit replaces exactly, and says why it cannot", async () => {
    const path = join(dir, "edit.txt");
    writeFileSync(path, "a b a\n");
    const twice = await deepfs(["edit", path, "--old", "a", "--new", "c"]);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toContain(`error[multiple_occurrences] ${path}:`);
    expect(twice.stderr).toContain("--replace-all");
    expect(twice.stderr.trim().split("\n")).toHaveLength(1);
    const all = await deepfs(["edit", "--json", path, "--old", "a", "--new", "c", "--replace-all"]);
    expect(JSON.parse(all.text)).toEqual({ path, occurrences: 2 });
    expect(readFileSync(path, "utf8")).toBe("c b c\n");
    const missing = await deepfs(["--json", "edit", path, "--old", "zzz", "--new", "y"]);
    expect(missing.status).toBe(2);
    expect(JSON.parse(missing.text).error).toMatchObject({ code: "string_not_found", path });
  });

  it("rm deletes files, and directories only with -r", async () => {
    mkdirSync(join(dir, "old", "deep"), { recursive: true });
    writeFileSync(join(dir, "old", "deep", "x.txt"), "x");
    const refused = await deepfs(["rm", join(dir, "old")]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("error[is_directory]");
    const removed = await deepfs(["rm", "-r", join(dir, "old")]);
    expect(removed.status).toBe(0);
    const gone = await deepfs(["cat", join(dir, "old", "deep", "x.txt")]);
    expect(gone.status).toBe(2);
    expect(gone.stderr).toMatch(/^deepfs: error\[file_not_found\] \S+x\.txt: .+ \(hint: .+\)\n$/);
  });

  it("every command has --help with an example", async () => {
    for (const command of ["ls", "cat", "put", "rm", "glob", "grep", "edit", "cp", "sync", "diff", "mcp"]) {
      const help = await deepfs([command, "--help"]);
      expect(help.status).toBe(0);
      expect(help.text).toContain("Examples:");
      expect(help.text).toContain(`$ deepfs ${command}`);
    }
    const usage = await deepfs(["frobnicate"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^deepfs: error\[invalid_argument\] unknown command 'frobnicate'/);
  });
});

describe("deepfs cp", () => {
  it("copies a tree of text and binary files byte for byte, through memory: and back to disk", async () => {
    const source = tempDir("src");
    const target = tempDir("dst");
    try {
      const files = writeTree(source, 120);
      const json = await deepfs(["--json", "cp", source, `${target}/copy`, "--batch-size", "16"]);
      expect(json.stderr).toBe("");
      expect(json.status).toBe(0);
      expect(JSON.parse(json.text)).toMatchObject({ files: 120, failed: [] });
      expect(readTree(join(target, "copy"))).toEqual(files);
      const memory = await deepfs(["--json", "cp", source, "memory:/tree/"]);
      expect(JSON.parse(memory.text)).toMatchObject({ files: 120, failed: [] });
      const config = join(target, "deepfs.config.json");
      writeFileSync(config, JSON.stringify({ default: "memory:", routes: { "/disk/": target } }));
      const one = await deepfs(["--config", config, "cp", `file://${source}/bin/blob-5.png`, "/disk/single/"]);
      expect(one.status).toBe(0);
      expect(readFileSync(join(target, "single", "blob-5.png")).equals(files.get("bin/blob-5.png") as Buffer)).toBe(
        true,
      );
    } finally {
      rmSync(source, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });
});

describe("deepfs with --config", () => {
  it("applies the config's permission rules, and asks on a terminal for `ask` rules", async () => {
    const work = tempDir("rules");
    try {
      mkdirSync(join(work, "files", "secret"), { recursive: true });
      writeFileSync(join(work, "files", "a.txt"), "a\n");
      writeFileSync(join(work, "files", "b.txt"), "b\n");
      writeFileSync(join(work, "files", "secret", "k.txt"), "key\n");
      const config = join(work, "deepfs.config.json");
      writeFileSync(
        config,
        JSON.stringify({
          default: "./files",
          permissions: {
            rules: [
              { action: "deny", operations: ["read", "write", "delete"], paths: ["/secret/**"] },
              { action: "ask", operations: ["delete"], paths: ["**"] },
            ],
          },
        }),
      );
      const denied = await deepfs(["--config", config, "cat", "/secret/k.txt"]);
      expect(denied.status).toBe(2);
      expect(denied.stderr).toContain("error[permission_denied]");
      expect(denied.stderr).not.toContain("key");
      expect((await deepfs(["--config", config, "ls", "/"])).text).toBe("/a.txt\n/b.txt\n");
      // No terminal (a pipe): an ask refuses.
      const piped = await deepfs(["--config", config, "rm", "/a.txt"]);
      expect(piped.stderr).toContain("error[permission_denied]");
      expect(existsSync(join(work, "files", "a.txt"))).toBe(true);
      // On a terminal: asked, "n" refuses and "y" approves.
      const ask = async (answer: string, path: string) => {
        const stdin = Object.assign(new PassThrough(), { isTTY: true });
        const stderr = Object.assign(new PassThrough(), { isTTY: true });
        const stdout = new PassThrough();
        let asked = "";
        stderr.on("data", (chunk: Buffer) => {
          asked += chunk.toString();
          if (asked.includes("[y/N]")) stdin.write(`${answer}\n`);
        });
        const status = await run(["--config", config, "rm", path], { stdin, stdout, stderr });
        return { status, asked };
      };
      const no = await ask("n", "/a.txt");
      expect(no.asked).toContain("deepfs: allow delete of /a.txt? [y/N]");
      expect(no.status).toBe(2);
      expect(existsSync(join(work, "files", "a.txt"))).toBe(true);
      const yes = await ask("y", "/b.txt");
      expect(yes.status).toBe(0);
      expect(existsSync(join(work, "files", "b.txt"))).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("routes paths through the composite and refuses writes to a read-only route", async () => {
    const work = tempDir("config");
    try {
      mkdirSync(join(work, "vendor"));
      writeFileSync(join(work, "vendor", "lib.js"), "export const lib = 1;\n");
      const config = join(work, "deepfs.config.json");
      writeFileSync(
        config,
        JSON.stringify({
          default: "memory:",
          routes: { "/project/": "./project", "/vendor/": { url: "./vendor", readOnly: true } },
        }),
      );
      const put = await deepfs(["--config", config, "put", "/project/a.md"], { input: "hello\n" });
      expect(put.status).toBe(0);
      expect(readFileSync(join(work, "project", "a.md"), "utf8")).toBe("hello\n");
      const read = await deepfs(["--config", config, "cat", "/vendor/lib.js"]);
      expect(read.text).toBe("export const lib = 1;\n");
      const refused = await deepfs(["--config", config, "put", "/vendor/lib.js"], { input: "evil" });
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain("error[read_only] /vendor/lib.js:");
      expect(readFileSync(join(work, "vendor", "lib.js"), "utf8")).toBe("export const lib = 1;\n");
      const ls = await deepfs(["--config", config, "ls", "/"]);
      expect(ls.text).toBe("/project/\n/vendor/\n");
      const relative = await deepfs(["--config", config, "ls", "project"]);
      expect(relative.status).toBe(2);
      expect(relative.stderr).toContain("error[invalid_path]");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("passwords", () => {
  it("never appear in errors, --json errors or --verbose output", async () => {
    const url = "postgres://app:hunter2-secret@127.0.0.1:1/db/notes/?namespace=x";
    for (const args of [
      ["ls", url],
      ["--json", "ls", url],
      ["--verbose", "cat", url],
      ["ls", url, "--bogus"],
    ]) {
      const result = await deepfs(args);
      expect(result.status).toBe(2);
      expect(result.text + result.stderr).not.toContain("hunter2");
      expect(result.text + result.stderr).not.toMatch(/\n.+\n./);
    }
  });
});
