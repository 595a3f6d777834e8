import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HistoryProtocol } from "@deepfs/core";
import { DeepfsError } from "@deepfs/core";
import { afterAll, describe, expect, it } from "vitest";
import { checkConfig, loadConfigFile, openBackend } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "deepfs-url-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>): Promise<DeepfsError> {
  try {
    await promise;
  } catch (error) {
    if (DeepfsError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a DeepfsError");
}

describe("openBackend", () => {
  it("opens memory: and local directories", async () => {
    await using memory = await openBackend("memory:");
    expect(await memory.backend.write("/a.md", "x")).toMatchObject({ path: "/a.md" });
    await using local = await openBackend("./files", { cwd: dir });
    await local.backend.write("/b.md", "y");
    expect(readFileSync(join(dir, "files", "b.md"), "utf8")).toBe("y");
    expect(local.label).toBe(`file://${join(dir, "files")}`);
  });

  it("opens file:///dir?history=1 with version history kept beside the directory", async () => {
    const url = `file://${join(dir, "versioned")}?history-max-versions=2`;
    await using local = await openBackend(url);
    expect(local.label).toBe(url);
    for (const text of ["1", "2", "3"]) await local.backend.write("/a.md", text, {});
    const files = local.backend as unknown as HistoryProtocol;
    expect((await files.history("/a.md")).versions?.length).toBe(2);
    expect(readFileSync(join(`${join(dir, "versioned")}.deepfs-history`, "log"), "utf8")).toContain('"/a.md"');
  });

  it("opens memory:?history=1 with version history, and a config whose members all keep it", async () => {
    await using memory = await openBackend("memory:?history-max-versions=2");
    expect(memory.label).toBe("memory:?history-max-versions=2");
    const files = memory.backend as unknown as HistoryProtocol;
    for (const text of ["1", "2", "3"]) await memory.backend.write("/a.md", text, {});
    expect((await files.history("/a.md")).versions?.length).toBe(2);
    await using plain = await openBackend("memory:");
    expect(await (plain.backend as unknown as HistoryProtocol).history("/a.md")).toMatchObject({ code: "unsupported" });
    await using config = await openBackend({ default: "memory:?history=1", routes: { "/m/": "memory:?history=1" } });
    const composite = config.backend as unknown as HistoryProtocol;
    const snapshot = (await composite.snapshot()).snapshot ?? "";
    await config.backend.write("/m/b.md", "b");
    expect((await composite.changesSince(snapshot)).changes).toEqual([{ path: "/m/b.md", change: "added" }]);
  });

  it("opens a config as a composite with read-only routes, and closes every member", async () => {
    writeFileSync(join(dir, "ro.txt"), "keep");
    const opened = await openBackend(
      { default: "memory:", routes: { "/disk/": dir, "/ro/": { url: dir, readOnly: true } } },
      { cwd: dir },
    );
    expect((await opened.backend.downloadFiles(["/ro/ro.txt"]))[0]?.content).toEqual(new TextEncoder().encode("keep"));
    expect(await opened.backend.write("/ro/ro.txt", "changed")).toMatchObject({ code: "read_only" });
    expect(await opened.backend.write("/disk/new.txt", "new")).toMatchObject({ path: "/disk/new.txt" });
    expect(opened.label).toContain("/ro/ file://");
    expect(opened.label).toContain("(read-only)");
    await opened.close();
    await opened.close();
  });

  it("applies a config's permission rules on the caller's paths and its quotas, whole and per route", async () => {
    await using opened = await openBackend({
      default: "memory:",
      routes: { "/scratch/": { url: "memory:", quota: { maxFiles: 2 } } },
      permissions: {
        rules: [
          { action: "deny", operations: ["read", "write", "delete"], paths: ["/secret/**", "/scratch/keys/**"] },
          { action: "ask", operations: ["delete"], paths: ["**"] },
        ],
      },
      quota: { maxFileSize: 1000 },
    });
    const { backend } = opened;
    expect(await backend.write("/secret/k.txt", "x")).toMatchObject({ code: "permission_denied" });
    expect(await backend.write("/scratch/keys/k.txt", "x")).toMatchObject({ code: "permission_denied" });
    expect(await backend.write("/SECRET/k.txt", "x")).toMatchObject({ code: "permission_denied" });
    expect(await backend.write("/notes.md", "x".repeat(1001))).toMatchObject({ code: "too_large" });
    await backend.write("/scratch/a.txt", "a");
    await backend.write("/scratch/b.txt", "b");
    expect(await backend.write("/scratch/c.txt", "c")).toMatchObject({ code: "too_large" });
    // No approval callback in a file: an ask refuses.
    expect(await backend.delete("/scratch/a.txt")).toMatchObject({ code: "permission_denied" });
    expect(opened.label).toContain("(quota)");
    expect(opened.label).toContain("permission rules");
  });

  it("refuses a config whose rules or quotas are malformed, naming the place", () => {
    expect(() =>
      checkConfig({ permissions: { rules: [{ action: "block", operations: ["read"], paths: ["**"] }] } }),
    ).toThrow(/permissions: .*action must be/);
    expect(() =>
      checkConfig({ permissions: { rules: [{ action: "deny", operations: ["read"], paths: ["/a/../b"] }] } }),
    ).toThrow(/permissions/);
    expect(() => checkConfig({ routes: { "/m/": { url: "memory:", quota: { maxFiles: -1 } } } })).toThrow(
      /route '\/m\/': quota/,
    );
    expect(() => checkConfig({ quota: "lots" })).toThrow(/quota must be an object/);
  });

  it("attaches docker://<container> at once, so an unreachable engine is an error naming the container", async () => {
    // The attach itself is tested against a real engine in packages/docker and packages/cli.
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${join(dir, "no-docker.sock")}`;
    try {
      const error = await rejection(openBackend("docker://my-sandbox"));
      expect(error.code).toBe("backend_unavailable");
      expect(error.message).toMatch(/^Sandbox my-sandbox could not start: /);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it("masks the password when a PostgreSQL server cannot be reached", async () => {
    const error = await rejection(openBackend("postgres://app:hunter2@127.0.0.1:1/app?namespace=a"));
    expect(error.message).not.toContain("hunter2");
  });
});

describe("config files", () => {
  it("loads one, resolving nothing until opened, and explains bad ones", async () => {
    const file = join(dir, "deepfs.config.json");
    writeFileSync(file, JSON.stringify({ default: "memory:", routes: { "/p/": "./p" } }));
    expect(await loadConfigFile(file)).toEqual({
      config: { default: "memory:", routes: { "/p/": "./p" } },
      baseDir: dir,
    });
    writeFileSync(file, '{ "default": "postgres://u:hunter2@h/db", ');
    const broken = await rejection(loadConfigFile(file));
    expect(broken.code).toBe("invalid_argument");
    expect(broken.message).not.toContain("hunter2");
    expect((await rejection(loadConfigFile(join(dir, "missing.json")))).code).toBe("file_not_found");
    expect(() => checkConfig({ routes: { "p/": "memory:" } })).toThrow(/absolute path/);
    expect(() => checkConfig({ routes: { "/p/": { url: "memory:", readonly: true } } })).toThrow(
      /unknown key 'readonly'/,
    );
    expect(() => checkConfig({ default: "memory:", extra: 1 })).toThrow(/unknown key 'extra'/);
  });
});
