import { describe, expect } from "vitest";
import { expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** The second instance of a rule's subject: another process over the same files. */
async function peerOf(env: RuleEnv) {
  if (!env.peer) throw new Error("peers: true needs create() to return a subject with `peer`");
  return env.peer();
}

/**
 * Two instances over the same files (two processes: separate pools, clients and in-process locks)
 * change one file at once, and no acknowledged change is lost: what the store itself guarantees,
 * not what one object's lock does.
 */
export function registerPeerRules(ctx: ContractContext): void {
  describe("two instances over the same files", () => {
    ctx.rule("a file written through one instance is read through the other", async (env) => {
      const other = await peerOf(env);
      expectSuccess(await env.backend.write(env.at("/peer/a.txt"), "from the first\n"));
      expect((await other.read(env.at("/peer/a.txt"))).content).toBe("from the first");
    });

    ctx.rule(
      "edits from two instances at once lose nothing",
      async (env) => {
        const other = await peerOf(env);
        const path = env.at("/peer/plan.md");
        const lines = Array.from({ length: 24 }, (_, i) => `line ${i}: todo`);
        expectSuccess(await env.backend.write(path, `${lines.join("\n")}\n`));
        const results = await Promise.all(
          lines.map((line, i) => (i % 2 === 0 ? env.backend : other).edit(path, line, line.replace("todo", "done"))),
        );
        expect(results.map((r) => r.code ?? "ok")).toEqual(lines.map(() => "ok"));
        expect(new Set(results.map((r) => r.etag)).size, "every edit made its own version").toBe(lines.length);
        const text = (await other.readRaw(path)).data?.content;
        expect(text).toBe(`${lines.map((l) => l.replace("todo", "done")).join("\n")}\n`);
      },
      { needs: "conditionalWrites", timeout: 120_000 },
    );

    ctx.rule(
      "exactly one of two racing ifNoneMatch writes creates the file",
      async (env) => {
        const other = await peerOf(env);
        for (let round = 0; round < 5; round++) {
          const path = env.at(`/peer/once-${round}.txt`);
          const results = await Promise.all([
            env.backend.write(path, "first", { ifNoneMatch: "*" }),
            other.write(path, "second", { ifNoneMatch: "*" }),
          ]);
          expect(results.map((r) => r.code ?? "ok").sort()).toEqual(["conflict", "ok"]);
        }
      },
      { needs: "conditionalWrites" },
    );

    ctx.rule(
      "of two writers holding the same etag, exactly one wins",
      async (env) => {
        const other = await peerOf(env);
        const path = env.at("/peer/cas.txt");
        const created = await env.backend.write(path, "v1");
        expectSuccess(created);
        const results = await Promise.all([
          env.backend.write(path, "from first", { ifMatch: created.etag }),
          other.write(path, "from second", { ifMatch: created.etag }),
        ]);
        expect(results.map((r) => r.code ?? "ok").sort()).toEqual(["conflict", "ok"]);
        const winner = results.findIndex((r) => r.code === undefined);
        expect((await other.read(path)).content).toBe(winner === 0 ? "from first" : "from second");
      },
      { needs: "conditionalWrites" },
    );
  });
}
