import { comparePaths, utf8ByteLength } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess, isIsoDate, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

export function registerLsRules(ctx: ContractContext): void {
  describe("ls", () => {
    ctx.rule("lists direct children only: dirs with a trailing '/', is_dir and size 0", async (env) => {
      await seed(env, { "/l/a.txt": "a", "/l/sub/b.txt": "b", "/l/sub/deep/c.txt": "c", "/l/other/d.txt": "d" });
      const listed = await env.backend.ls(env.at("/l"));
      expectSuccess(listed);
      expect(pathsOf(listed.files)).toEqual([env.at("/l/a.txt"), env.dirEntry("/l/other"), env.dirEntry("/l/sub")]);
      for (const dir of listed.files?.filter((f) => f.path.endsWith("/")) ?? []) {
        expect(dir.is_dir, dir.path).toBe(true);
        expect(dir.size ?? 0, dir.path).toBe(0);
      }
      expect(listed.files?.[0]?.is_dir ?? false).toBe(false);
    });

    ctx.rule("files carry their size in bytes and an ISO modified_at", async (env) => {
      const text = "é中😀\n";
      await env.backend.write(env.at("/m/multi.txt"), text);
      await seed(env, { "/m/bytes.bin": new Uint8Array([0, 1, 2, 255, 254]) });
      const listed = await env.backend.ls(env.at("/m"));
      expectSuccess(listed);
      const byPath = new Map(listed.files?.map((f) => [f.path, f]));
      const multi = byPath.get(env.at("/m/multi.txt"));
      expect(multi?.is_dir ?? false).toBe(false);
      expect(multi?.size, "size counts UTF-8 bytes, not characters").toBe(utf8ByteLength(text));
      expect(utf8ByteLength(text)).toBe(10);
      expect(isIsoDate(multi?.modified_at), `modified_at ${multi?.modified_at}`).toBe(true);
      expect(byPath.get(env.at("/m/bytes.bin"))?.size).toBe(5);
    });

    ctx.rule("entries are sorted by path in code point order", async (env) => {
      const names = [
        "b.txt",
        "B.txt",
        "a.txt",
        "_u.txt",
        "é.txt",
        "10.txt",
        "9.txt",
        "Z/z.txt",
        "a b.txt",
        "😀.txt",
        "ｆ.txt",
      ];
      await seed(env, Object.fromEntries(names.map((n) => [`/s/${n}`, n])));
      const listed = await env.backend.ls(env.at("/s"));
      expectSuccess(listed);
      const expected = names
        .map((n) => (n === "Z/z.txt" ? env.dirEntry("/s/Z") : env.at(`/s/${n}`)))
        .sort(comparePaths);
      expect(pathsOf(listed.files)).toEqual(expected);
    });

    ctx.rule("a missing directory gives files: [] and no error", async (env) => {
      await seed(env, { "/present/x.txt": "x" });
      const listed = await env.backend.ls(env.at("/nope"));
      expectSuccess(listed);
      expect(listed.files).toEqual([]);
      const nested = await env.backend.ls(env.at("/present/nope/deeper"));
      expectSuccess(nested);
      expect(nested.files).toEqual([]);
    });

    ctx.rule("ls('/x') equals ls('/x/')", async (env) => {
      await seed(env, { "/x/a.txt": "a", "/x/y/b.txt": "b" });
      const plain = await env.backend.ls(env.at("/x"));
      const slashed = await env.backend.ls(`${env.at("/x")}/`);
      expectSuccess(plain);
      expect(slashed).toEqual(plain);
      expect(pathsOf(plain.files)).toEqual([env.at("/x/a.txt"), env.dirEntry("/x/y")]);
    });

    ctx.rule("lists the root", async (env) => {
      // `/a/` is among the entries so that a router with a mount point there lists the same.
      await seed(env, { "/a/x.txt": "x", "/b.txt": "b", "/c/d/e.txt": "e" });
      const listed = await env.backend.ls(env.at("/"));
      expectSuccess(listed);
      expect(pathsOf(listed.files)).toEqual([env.dirEntry("/a"), env.at("/b.txt"), env.dirEntry("/c")]);
      if (env.root === "/") {
        const empty = await env.backend.ls("");
        expect(pathsOf(empty.files), "ls('') lists the root").toEqual(pathsOf(listed.files));
      }
    });

    ctx.rule("a directory without files disappears (unless the backend has real directories)", async (env) => {
      await seed(env, { "/g/h/i.txt": "i", "/g/j.txt": "j" });
      expectSuccess(await env.backend.delete(env.at("/g/h/i.txt")));
      const listed = await env.backend.ls(env.at("/g"));
      expectSuccess(listed);
      if (env.capabilities.realDirectories) {
        expect([[env.at("/g/j.txt")], [env.dirEntry("/g/h"), env.at("/g/j.txt")]]).toContainEqual(
          pathsOf(listed.files),
        );
      } else {
        expect(pathsOf(listed.files)).toEqual([env.at("/g/j.txt")]);
        expectSuccess(await env.backend.delete(env.at("/g/j.txt")));
        expect(pathsOf((await env.backend.ls(env.at("/"))).files)).not.toContain(env.dirEntry("/g"));
      }
    });
  });
}
