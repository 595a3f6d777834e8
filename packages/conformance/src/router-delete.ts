import { CompositeBackend, StateBackend } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

/** The route members' files, by path, for asserting what a delete left. */
function filesOf(backend: StateBackend): string[] {
  return Object.keys(backend.files);
}

/**
 * Deletes through a CompositeBackend whose default member is the backend under test: the router
 * reaches the routes mounted below the target, relies on the member's `file_not_found` to skip it
 * when it holds nothing there, and refuses before anything is deleted when a read-only mount lies
 * at or below the target.
 */
export function registerRouterDeleteRules(ctx: ContractContext): void {
  describe("router delete", () => {
    ctx.rule("a delete through a router reaches every route mounted below the target", async (env) => {
      await seed(env, { "/x/own.txt": "own", "/x/sub/deep.txt": "deep", "/beside.txt": "beside" });
      const below = new StateBackend({ files: { "/r.txt": "r", "/d/r2.txt": "r2" } });
      const only = new StateBackend({ files: { "/m.txt": "m" } });
      const router = new CompositeBackend(env.backend, { [env.at("/x/mnt")]: below, [env.at("/y/mnt")]: only });

      const deleted = await router.delete(env.at("/x"));
      expectSuccess(deleted);
      expect(deleted.path).toBe(env.at("/x"));
      expectFailure(await env.backend.read(env.at("/x/own.txt")), "file_not_found");
      expectFailure(await env.backend.read(env.at("/x/sub/deep.txt")), "file_not_found");
      expect(filesOf(below)).toEqual([]);
      // The mount stays, and so does everything beside the target.
      expect(pathsOf((await router.ls(env.at("/x"))).files)).toEqual([env.dirEntry("/x/mnt")]);
      expect((await env.backend.read(env.at("/beside.txt"))).content).toBe("beside");

      // The member holds nothing under `/y` and says so with file_not_found: the route alone is deleted.
      const onlyRoute = await router.delete(env.at("/y"));
      expectSuccess(onlyRoute);
      expect(filesOf(only)).toEqual([]);
      expectFailure(await router.delete(env.at("/y")), "file_not_found");
    });

    ctx.rule("a delete through a router above a read-only mount answers read_only and deletes nothing", async (env) => {
      await seed(env, { "/p/own.txt": "own", "/p/q/deep.txt": "deep" });
      const writable = new StateBackend({ files: { "/w.txt": "w" } });
      const docs = new StateBackend({ files: { "/guide.md": "guide" } });
      const router = new CompositeBackend(env.backend, {
        [env.at("/p/a-writable")]: writable,
        [env.at("/p/q/docs")]: { backend: docs, readOnly: true },
      });
      for (const target of ["/p", "/p/q", "/p/q/docs", "/p/q/docs/guide.md"]) {
        expectFailure(await router.delete(env.at(target)), "read_only");
      }
      expect((await env.backend.read(env.at("/p/own.txt"))).content).toBe("own");
      expect((await env.backend.read(env.at("/p/q/deep.txt"))).content).toBe("deep");
      expect(filesOf(writable)).toEqual(["/w.txt"]);
      expect(filesOf(docs)).toEqual(["/guide.md"]);
    });
  });
}
