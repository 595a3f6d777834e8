import { describe, expect, it } from "vitest";
import {
  CompositeBackend,
  DeepfsError,
  type ExecuteResponse,
  MemoryBackend,
  type PermissionRequest,
  type PermissionRule,
  StateBackend,
  withPermissions,
} from "../src/index.js";
import { withNativeRestore } from "./support/native-restore.js";

const SECRET_DENIED: PermissionRule[] = [
  { action: "deny", operations: ["read", "write", "delete"], paths: ["/secret/**"] },
];

function seeded(files: Record<string, string> = {}): MemoryBackend {
  return new MemoryBackend({
    files: {
      "/secret/key.txt": "needle KEY",
      "/secret/sub/deep.txt": "needle DEEP",
      "/pub/a.txt": "needle A",
      ...files,
    },
  });
}

describe("withPermissions", () => {
  it("refuses every operation a deny rule names with permission_denied naming the rule, and changes nothing", async () => {
    const inner = seeded();
    const guarded = withPermissions(inner, { rules: SECRET_DENIED });
    const read = await guarded.read("/secret/key.txt");
    expect(read.code).toBe("permission_denied");
    expect(read.error).toContain("rule #0 denies read");
    expect(read.error).not.toContain("KEY");
    expect((await guarded.readRaw("/secret/key.txt")).code).toBe("permission_denied");
    expect((await guarded.write("/secret/key.txt", "x")).code).toBe("permission_denied");
    expect((await guarded.write("/secret/new.txt", "x")).code).toBe("permission_denied");
    expect((await guarded.edit("/secret/key.txt", "needle", "pin")).code).toBe("permission_denied");
    expect((await guarded.delete("/secret/key.txt")).code).toBe("permission_denied");
    expect((await guarded.ls("/secret/sub")).code).toBe("permission_denied");
    const up = await guarded.uploadFiles([
      ["/secret/up.bin", new Uint8Array([1])],
      ["/pub/up.bin", new Uint8Array([2])],
    ]);
    expect(up.map((u) => [u.error, u.code])).toEqual([
      ["permission_denied", "permission_denied"],
      [null, undefined],
    ]);
    const down = await guarded.downloadFiles(["/secret/key.txt", "/pub/a.txt"]);
    expect(down.map((d) => d.code ?? null)).toEqual(["permission_denied", null]);
    expect(down[0]?.content).toBeNull();
    expect((await inner.read("/secret/key.txt")).content).toBe("needle KEY");
    expect((await inner.ls("/secret")).files?.map((f) => f.path)).toEqual(["/secret/key.txt", "/secret/sub/"]);
    expect((await inner.read("/pub/up.bin")).code).toBeUndefined();
  });

  it("hides denied files from ls, glob and grep of a parent, whatever the pattern or filter", async () => {
    const guarded = withPermissions(seeded(), { rules: SECRET_DENIED });
    expect((await guarded.ls("/")).files?.map((f) => f.path)).toEqual(["/pub/"]);
    expect((await guarded.ls("/secret")).files).toEqual([]);
    for (const pattern of ["**", "**/*", "/secre?/**", "{secret,pub}/**", "secret/**", "**/key.txt", "/SECRET/**"]) {
      const found = await guarded.glob(pattern, "/");
      expect(found.error, pattern).toBeUndefined();
      expect(
        found.files?.every((f) => !f.path.startsWith("/secret/")),
        pattern,
      ).toBe(true);
    }
    expect((await guarded.glob("**", "/secret")).files).toEqual([]);
    for (const glob of [null, "*.txt", "**/*", "secret/**", "/secre?/**", "{secret,pub}/*"]) {
      const found = await guarded.grep("needle", "/", glob);
      expect(found.error).toBeUndefined();
      expect(
        found.matches?.map((m) => m.path),
        String(glob),
      ).toEqual(glob?.startsWith("secret") || glob === "/secre?/**" ? [] : ["/pub/a.txt"]);
    }
    expect((await guarded.grep("needle", "/secret/key.txt")).matches).toEqual([]);
  });

  it("counts maxCount over visible matches only, asking a native grep again when hidden ones took its place", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`/a/secret/${i}.txt`] = "needle";
    for (let i = 0; i < 3; i++) files[`/b/${i}.txt`] = "needle";
    const rules: PermissionRule[] = [{ action: "deny", operations: ["read"], paths: ["**/secret/**"] }];
    // StateBackend's grep (through its public methods) ignores the layer's filter: only the re-ask helps.
    for (const inner of [new MemoryBackend({ files }), new StateBackend({ files })]) {
      const guarded = withPermissions(inner, { rules });
      const two = await guarded.grep("needle", "/", null, 2);
      expect(two).toEqual({
        matches: [
          { path: "/b/0.txt", line: 1, text: "needle" },
          { path: "/b/1.txt", line: 1, text: "needle" },
        ],
        truncated: true,
      });
      const three = await guarded.grep("needle", "/", null, 3);
      expect(three.matches).toHaveLength(3);
      expect(three.truncated).toBeUndefined();
    }
  });

  it("matches the canonical path: '.', '..', backslashes and '//' never reach a denied file", async () => {
    const guarded = withPermissions(seeded(), { rules: SECRET_DENIED });
    for (const path of ["/./secret/key.txt", "/pub/../secret/key.txt", "\\secret\\key.txt", "/secret/./key.txt"]) {
      expect((await guarded.read(path)).code, path).toBe("invalid_path");
    }
    for (const path of ["//secret/key.txt", "/secret//key.txt", "/secret/key.txt/"]) {
      expect((await guarded.read(path)).code, path).toBe("permission_denied");
    }
  });

  it("folds case for deny rules (so /SECRET cannot slip past on a case-insensitive store) but not for allow", async () => {
    const inner = new MemoryBackend({ files: { "/SECRET/x.txt": "x", "/Public/p.txt": "p", "/public/q.txt": "q" } });
    const guarded = withPermissions(inner, {
      rules: [
        { action: "deny", operations: ["read"], paths: ["/secret/**"] },
        { action: "allow", operations: ["read"], paths: ["/public/**"] },
        { action: "deny", operations: ["read"], paths: ["**"] },
      ],
    });
    expect((await guarded.read("/SECRET/x.txt")).code).toBe("permission_denied");
    expect((await guarded.read("/public/q.txt")).content).toBe("q");
    expect((await guarded.read("/Public/p.txt")).code).toBe("permission_denied");
  });

  it("first match wins, and the default action applies when nothing matches", async () => {
    const inner = seeded();
    const guarded = withPermissions(inner, {
      rules: [
        { action: "allow", operations: ["read"], paths: ["/secret/key.txt"] },
        { action: "deny", operations: ["read"], paths: ["/secret/**"] },
      ],
      defaultAction: "deny",
    });
    expect((await guarded.read("/secret/key.txt")).content).toBe("needle KEY");
    expect((await guarded.read("/secret/sub/deep.txt")).error).toContain("rule #1");
    const write = await guarded.write("/pub/b.txt", "b");
    expect(write.code).toBe("permission_denied");
    expect(write.error).toContain("the default action denies write");
  });

  it("ask awaits onAsk with the canonical operation and path; no callback or a throw refuses", async () => {
    const asked: PermissionRequest[] = [];
    const rules: PermissionRule[] = [{ action: "ask", operations: ["write", "delete"], paths: ["/pub/**"] }];
    const approving = withPermissions(seeded(), {
      rules,
      onAsk: async (request) => {
        asked.push(request);
        return request.path !== "/pub/no.txt";
      },
    });
    expect((await approving.write("//pub//yes.txt", "y")).path).toBe("/pub/yes.txt");
    expect((await approving.write("/pub/no.txt", "n")).code).toBe("permission_denied");
    expect(asked).toEqual([
      { operation: "write", path: "/pub/yes.txt" },
      { operation: "write", path: "/pub/no.txt" },
    ]);
    const silent = withPermissions(seeded(), { rules });
    const refused = await silent.write("/pub/x.txt", "x");
    expect(refused.code).toBe("permission_denied");
    expect(refused.error).toContain("no onAsk callback");
    const throwing = withPermissions(seeded(), {
      rules,
      onAsk: () => {
        throw new Error("boom");
      },
    });
    expect((await throwing.delete("/pub/a.txt")).code).toBe("permission_denied");
    expect((await throwing.read("/pub/a.txt")).content).toBe("needle A");
  });

  it("refuses a recursive delete that would take a protected file with it", async () => {
    const inner = seeded();
    const guarded = withPermissions(inner, {
      rules: [{ action: "deny", operations: ["delete"], paths: ["/secret/sub/**"] }],
    });
    const root = await guarded.delete("/secret");
    expect(root.code).toBe("permission_denied");
    expect((await inner.read("/secret/key.txt")).content).toBe("needle KEY");
    expect((await guarded.delete("/secret/key.txt")).path).toBe("/secret/key.txt");
  });

  it("asks once for a recursive delete that would take files an ask rule covers", async () => {
    const asked: PermissionRequest[] = [];
    const onAsk = (request: PermissionRequest) => {
      asked.push(request);
      return false;
    };
    const inner = seeded();
    const below = withPermissions(inner, {
      rules: [{ action: "ask", operations: ["delete"], paths: ["/secret/**"] }],
      onAsk,
    });
    expect((await below.delete("/secret")).code).toBe("permission_denied");
    expect(asked).toEqual([{ operation: "delete", path: "/secret" }]);
    expect((await inner.read("/secret/key.txt")).content).toBe("needle KEY");
    asked.length = 0;
    const approve = (request: PermissionRequest) => asked.push(request) > 0;
    const both = withPermissions(inner, {
      rules: [{ action: "ask", operations: ["delete"], paths: ["/secret{,/**}"] }],
      onAsk: approve,
    });
    expect((await both.delete("/secret")).path).toBe("/secret");
    expect(asked).toEqual([{ operation: "delete", path: "/secret" }]);
    expect((await inner.read("/secret/key.txt")).code).toBe("file_not_found");
  });

  it("an edit needs write and read: a write-only path cannot be probed by editing", async () => {
    const guarded = withPermissions(seeded(), {
      rules: [{ action: "deny", operations: ["read"], paths: ["/secret/**"] }],
    });
    expect((await guarded.write("/secret/key.txt", "overwritten")).path).toBe("/secret/key.txt");
    const edit = await guarded.edit("/secret/key.txt", "over", "under");
    expect(edit.code).toBe("permission_denied");
    expect(edit.error).toContain("denies read");
  });

  it("guards history: versions and readVersion are reads, restore is a write", async () => {
    const inner = new MemoryBackend({ history: true, files: { "/secret/h.txt": "v1", "/pub/h.txt": "v1" } });
    await inner.write("/secret/h.txt", "v2");
    await inner.write("/pub/h.txt", "v2");
    const snapshot = (await inner.snapshot()).snapshot as string;
    await inner.write("/secret/h.txt", "v3");
    await inner.write("/pub/h.txt", "v3");
    const guarded = withPermissions(inner, {
      rules: [
        { action: "deny", operations: ["read"], paths: ["/secret/**"] },
        { action: "deny", operations: ["write"], paths: ["/pub/**"] },
      ],
    });
    expect((await guarded.history("/secret/h.txt")).code).toBe("permission_denied");
    const versions = (await inner.history("/secret/h.txt")).versions ?? [];
    expect((await guarded.readVersion("/secret/h.txt", versions[1]?.version as string)).code).toBe("permission_denied");
    const pub = (await guarded.history("/pub/h.txt")).versions ?? [];
    expect(pub).toHaveLength(3);
    expect((await guarded.restore("/pub/h.txt", pub[2]?.version as string)).code).toBe("permission_denied");
    expect((await guarded.changesSince(snapshot)).changes).toEqual([{ path: "/pub/h.txt", change: "modified" }]);
    expect((await inner.read("/pub/h.txt")).content).toBe("v3");
  });

  it("keeps a store's native restore once reading and writing the file are both allowed", async () => {
    const inner = new MemoryBackend({ history: true, files: { "/pub/h.txt": "v1", "/ro/h.txt": "v1" } });
    const snapshot = (await inner.snapshot()).snapshot as string;
    await inner.write("/pub/h.txt", "v2");
    await inner.write("/ro/h.txt", "v2");
    // The store restores by itself (as S3 copies a version inside the bucket): counted here.
    const natively = withNativeRestore(inner);
    const guarded = withPermissions(inner, {
      rules: [{ action: "deny", operations: ["write"], paths: ["/ro/**"] }],
    });
    const first = (await guarded.history("/pub/h.txt")).versions?.at(-1)?.version as string;
    expect((await guarded.restore("/pub/h.txt", first)).error).toBeUndefined();
    expect((await guarded.read("/pub/h.txt")).content).toBe("v1");
    const ro = (await guarded.history("/ro/h.txt")).versions?.at(-1)?.version as string;
    expect((await guarded.restore("/ro/h.txt", ro)).code).toBe("permission_denied");
    expect(natively).toEqual(["/pub/h.txt"]);
    // A snapshot's restore goes the same way, file by file.
    await guarded.write("/pub/h.txt", "v3");
    const restored = await guarded.restoreSnapshot(snapshot);
    expect(restored.failed?.map((f) => [f.path, f.code])).toEqual([["/ro/h.txt", "permission_denied"]]);
    expect(natively).toEqual(["/pub/h.txt", "/pub/h.txt"]);
    expect((await inner.read("/pub/h.txt")).content).toBe("v1");
    expect((await inner.read("/ro/h.txt")).content).toBe("v2");
  });

  it("denies a sandbox's execute as a whole, asks with the command, and keeps the sandbox's id", async () => {
    class Shell extends MemoryBackend {
      readonly id = "shell-1";
      readonly ran: string[] = [];
      async execute(command: string): Promise<ExecuteResponse> {
        this.ran.push(command);
        return { output: "ok", exitCode: 0, truncated: false };
      }
    }
    const shell = new Shell();
    const denied = withPermissions(shell, { rules: [{ action: "deny", operations: ["execute"], paths: ["**"] }] });
    expect(denied.id).toBe("shell-1");
    expect(denied.capabilities.execute).toBe(true);
    const refused = await denied.execute("cat /secret/key.txt");
    expect(refused.exitCode).toBe(126);
    expect(refused.output).toContain("permission_denied");
    expect(shell.ran).toEqual([]);
    const asked: PermissionRequest[] = [];
    const asking = withPermissions(shell, {
      rules: [{ action: "ask", operations: ["execute"], paths: ["**"] }],
      onAsk: (request) => {
        asked.push(request);
        return true;
      },
    });
    expect((await asking.execute("ls")).output).toBe("ok");
    expect(asked).toEqual([{ operation: "execute", path: "/", command: "ls" }]);
    expect(shell.ran).toEqual(["ls"]);
    expect((await withPermissions(new StateBackend(), { rules: [] }).execute("ls")).exitCode).toBe(126);
  });

  it("works over a router and as a route: rules see the route's own paths inside it", async () => {
    const mounted = new MemoryBackend({ files: { "/secret/k.txt": "needle K", "/ok.txt": "needle ok" } });
    const router = new CompositeBackend(new MemoryBackend(), {
      "/mnt/": withPermissions(mounted, { rules: SECRET_DENIED }),
    });
    expect((await router.read("/mnt/secret/k.txt")).code).toBe("permission_denied");
    expect((await router.grep("needle", "/")).matches?.map((m) => m.path)).toEqual(["/mnt/ok.txt"]);
    expect((await router.glob("**", "/")).files?.map((f) => f.path)).toEqual(["/mnt/ok.txt"]);
    const outer = withPermissions(
      new CompositeBackend(new MemoryBackend(), {
        "/mnt/": new MemoryBackend({ files: { "/secret/k.txt": "needle" } }),
      }),
      { rules: [{ action: "deny", operations: ["read", "write"], paths: ["/mnt/secret/**"] }] },
    );
    expect((await outer.read("/mnt/secret/k.txt")).code).toBe("permission_denied");
    expect((await outer.uploadFiles([["/mnt/secret/u", new Uint8Array([1])]]))[0]?.code).toBe("permission_denied");
    expect((await outer.grep("needle", "/mnt")).matches).toEqual([]);
  });

  it("refuses a bad configuration with a DeepfsError", () => {
    const base = new MemoryBackend();
    const bad: unknown[] = [
      undefined,
      { rules: [{ action: "maybe", operations: ["read"], paths: ["**"] }] },
      { rules: [{ action: "deny", operations: ["rename"], paths: ["**"] }] },
      { rules: [{ action: "deny", operations: ["read"], paths: [] }] },
      { rules: [{ action: "deny", operations: ["read"], paths: ["/a/../b"] }] },
      { rules: [], defaultAction: "sometimes" },
    ];
    for (const options of bad) {
      expect(() => withPermissions(base, options as never), JSON.stringify(options)).toThrow(DeepfsError);
    }
  });
});
