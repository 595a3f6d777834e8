import { describe, expect } from "vitest";
import { expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

export function registerDeleteRules(ctx: ContractContext): void {
  describe("delete", () => {
    ctx.rule("deletes a file: read is file_not_found, ls no longer lists it", async (env) => {
      await seed(env, { "/d/gone.txt": "bye", "/d/kept.txt": "stay" });
      const deleted = await env.backend.delete(env.at("/d/gone.txt"));
      expectSuccess(deleted);
      expect(deleted.path).toBe(env.at("/d/gone.txt"));
      expectFailure(await env.backend.read(env.at("/d/gone.txt")), "file_not_found");
      expectFailure(await env.backend.readRaw(env.at("/d/gone.txt")), "file_not_found");
      expect(pathsOf((await env.backend.ls(env.at("/d"))).files)).toEqual([env.at("/d/kept.txt")]);
      const [download] = await env.backend.downloadFiles([env.at("/d/gone.txt")]);
      expect(download?.error).toBe("file_not_found");
      expect((await env.backend.read(env.at("/d/kept.txt"))).content).toBe("stay");
    });

    ctx.rule("deletes a directory recursively and nothing beside it", async (env) => {
      await seed(env, {
        "/del/x/a.txt": "a",
        "/del/x/y/b.txt": "b",
        "/del/x/y/z/c.bin": new Uint8Array([0, 1]),
        "/del/xx.txt": "sibling with the same prefix",
        "/del/x2/keep.txt": "another sibling",
        "/del/z.txt": "z",
      });
      const deleted = await env.backend.delete(env.at("/del/x"));
      expectSuccess(deleted);
      expect(deleted.path).toBe(env.at("/del/x"));
      for (const gone of ["/del/x/a.txt", "/del/x/y/b.txt", "/del/x/y/z/c.bin"]) {
        expectFailure(await env.backend.read(env.at(gone)), "file_not_found");
      }
      const remaining = await env.backend.glob("**", env.at("/"));
      expect(pathsOf(remaining.files)).toEqual([
        env.at("/del/x2/keep.txt"),
        env.at("/del/xx.txt"),
        env.at("/del/z.txt"),
      ]);
      expect(pathsOf((await env.backend.ls(env.at("/del"))).files)).toEqual([
        env.dirEntry("/del/x2"),
        env.at("/del/xx.txt"),
        env.at("/del/z.txt"),
      ]);
    });

    ctx.rule("a missing path is file_not_found", async (env) => {
      await seed(env, { "/here.txt": "x" });
      expectFailure(await env.backend.delete(env.at("/missing.txt")), "file_not_found");
      expectFailure(await env.backend.delete(env.at("/missing/dir")), "file_not_found");
      expect((await env.backend.read(env.at("/here.txt"))).content).toBe("x");
    });

    ctx.rule("a deleted path can be written again as new", async (env) => {
      await env.backend.write(env.at("/again.txt"), "first life");
      expectSuccess(await env.backend.delete(env.at("/again.txt")));
      expectSuccess(await env.backend.write(env.at("/again.txt"), "second life"));
      expect((await env.backend.read(env.at("/again.txt"))).content).toBe("second life");
    });
  });
}
