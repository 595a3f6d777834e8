import { CompositeBackend, StateBackend } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

/**
 * The backend under test mounted read-only in a router: every mutation answers `read_only`
 * whatever its arguments (a string that is missing or occurs twice, a stale `ifMatch`, a path
 * that does not exist), before anything is read or planned, and nothing changes in the member.
 */
export function registerReadOnlyMountRules(ctx: ContractContext): void {
  describe("read-only mount", () => {
    ctx.rule("every mutation of a read-only mount answers read_only whatever its arguments", async (env) => {
      await seed(env, { "/src/a.ts": "twice twice once" });
      const router = new CompositeBackend(new StateBackend(), { "/ro/": { backend: env.backend, readOnly: true } });
      const at = (path: string) => `/ro${env.at(path)}`;
      const etag = (await env.backend.read(env.at("/src/a.ts"))).etag;

      const refused = [
        await router.write(at("/src/a.ts"), "new"),
        await router.write(at("/src/new.ts"), "new"),
        await router.edit(at("/src/a.ts"), "once", "ONCE"),
        await router.edit(at("/src/a.ts"), "twice", "TWICE"),
        await router.edit(at("/src/a.ts"), "absent", "x"),
        await router.edit(at("/src/a.ts"), "once", "ONCE", false, { ifMatch: "stale" }),
        await router.edit(at("/src/missing.ts"), "a", "b"),
        await router.delete(at("/src/a.ts")),
        await router.delete(at("/src/missing.ts")),
      ];
      for (const answer of refused) expectFailure(answer, "read_only");
      const uploads = await router.uploadFiles([
        [at("/src/a.ts"), new TextEncoder().encode("up")],
        [at("/src/up.ts"), new TextEncoder().encode("up")],
      ]);
      expect(uploads.map((u) => u.code)).toEqual(["read_only", "read_only"]);

      // Nothing changed, and reads still work through the mount.
      const read = await router.read(at("/src/a.ts"));
      expectSuccess(read);
      expect(read.content).toBe("twice twice once");
      expect((await env.backend.read(env.at("/src/a.ts"))).etag).toBe(etag);
      expectFailure(await env.backend.read(env.at("/src/new.ts")), "file_not_found");
      expectFailure(await env.backend.read(env.at("/src/up.ts")), "file_not_found");
    });
  });
}
