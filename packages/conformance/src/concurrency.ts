import type { EditResult } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectFailure, expectSuccess } from "./assertions.js";
import { registerRaceRules } from "./concurrency-races.js";
import type { ContractContext, RuleEnv } from "./context.js";

const PARALLEL_EDITS = 20;

const pad = (i: number) => String(i).padStart(2, "0");

/**
 * Every call either succeeded and its change is in the file, or returned `conflict` and its change
 * is absent; any other outcome (a lost success, another error) is a contract violation.
 */
function checkOutcomes(results: EditResult[], finalText: string, applied: (i: number) => boolean): void {
  const problems: string[] = [];
  results.forEach((result, i) => {
    if (result.error === undefined) {
      if (!applied(i)) problems.push(`edit ${i} succeeded but its change is missing (lost update)`);
    } else if (result.code === "conflict") {
      if (applied(i)) problems.push(`edit ${i} returned conflict but its change is present`);
    } else {
      problems.push(`edit ${i} failed with ${result.code}: ${result.error}`);
    }
  });
  expect(problems, `final text:\n${finalText}`).toEqual([]);
  expect(
    results.some((r) => r.error === undefined),
    "at least one of the concurrent edits must succeed",
  ).toBe(true);
}

async function finalText(env: RuleEnv, path: string): Promise<string> {
  const raw = await env.backend.readRaw(path);
  expectSuccess(raw);
  return raw.data?.content as string;
}

export function registerConcurrencyRules(ctx: ContractContext): void {
  registerRaceRules(ctx);
  describe("concurrency", () => {
    ctx.rule("20 parallel edits of distinct lines: each change is kept or its call returned conflict", async (env) => {
      const path = env.at("/slots.txt");
      let text = "";
      for (let i = 0; i < PARALLEL_EDITS; i++) text += `slot-${pad(i)}\n`;
      await env.backend.write(path, text);
      const results = await Promise.all(
        Array.from({ length: PARALLEL_EDITS }, (_, i) =>
          env.backend.edit(path, `slot-${pad(i)}\n`, `done-${pad(i)}\n`),
        ),
      );
      const final = await finalText(env, path);
      const lines = final.split("\n");
      checkOutcomes(results, final, (i) => lines.includes(`done-${pad(i)}`));
      // Nothing else was disturbed: every slot is exactly one of its two forms, in order.
      expect(lines.slice(0, PARALLEL_EDITS).map((l) => l.slice(-2))).toEqual(
        Array.from({ length: PARALLEL_EDITS }, (_, i) => pad(i)),
      );
      for (let i = 0; i < PARALLEL_EDITS; i++) {
        const done = lines.includes(`done-${pad(i)}`);
        expect(lines.includes(`slot-${pad(i)}`), `slot ${i} is either done or still a slot`).toBe(!done);
      }
    });

    ctx.rule(
      "20 parallel appends through one anchor: each token is kept or its call returned conflict",
      async (env) => {
        const path = env.at("/anchor.txt");
        await env.backend.write(path, "BEGIN\nEND\n");
        const results = await Promise.all(
          Array.from({ length: PARALLEL_EDITS }, (_, i) => env.backend.edit(path, "END", `tok-${pad(i)}\nEND`)),
        );
        const final = await finalText(env, path);
        const lines = final.split("\n");
        checkOutcomes(results, final, (i) => lines.includes(`tok-${pad(i)}`));
        const tokens = lines.filter((l) => l.startsWith("tok-"));
        expect(new Set(tokens).size, "no token appears twice").toBe(tokens.length);
        expect(tokens.length).toBe(results.filter((r) => r.error === undefined).length);
        expect(lines[0]).toBe("BEGIN");
        expect(lines.filter((l) => l === "END")).toHaveLength(1);
        expect(final.endsWith("END\n")).toBe(true);
      },
    );

    ctx.rule(
      "write with ifMatch: the current etag writes, a stale one is conflict and changes nothing",
      async (env) => {
        const path = env.at("/p.txt");
        const first = await env.backend.write(path, "one");
        const second = await env.backend.write(path, "two", { ifMatch: first.etag as string });
        expectSuccess(second);
        expect((await env.backend.read(path)).content).toBe("two");
        expectFailure(await env.backend.write(path, "three", { ifMatch: first.etag as string }), "conflict");
        expectFailure(await env.backend.write(path, "three", { ifMatch: "not-an-etag" }), "conflict");
        const after = await env.backend.read(path);
        expect(after.content).toBe("two");
        expect(after.etag).toBe(second.etag);
      },
      { needs: "conditionalWrites" },
    );

    ctx.rule(
      "edit with ifMatch: the current etag edits, a stale one is conflict and changes nothing",
      async (env) => {
        const path = env.at("/p.txt");
        const first = await env.backend.write(path, "alpha beta");
        const edited = await env.backend.edit(path, "alpha", "ALPHA", false, { ifMatch: first.etag as string });
        expectSuccess(edited);
        expectFailure(
          await env.backend.edit(path, "beta", "BETA", false, { ifMatch: first.etag as string }),
          "conflict",
        );
        const after = await env.backend.read(path);
        expect(after.content).toBe("ALPHA beta");
        expect(after.etag).toBe(edited.etag);
      },
      { needs: "conditionalWrites" },
    );

    ctx.rule(
      'ifNoneMatch: "*" creates a new file and is conflict on an existing one',
      async (env) => {
        const path = env.at("/once.txt");
        const created = await env.backend.write(path, "first", { ifNoneMatch: "*" });
        expectSuccess(created);
        expectFailure(await env.backend.write(path, "second", { ifNoneMatch: "*" }), "conflict");
        const after = await env.backend.read(path);
        expect(after.content).toBe("first");
        expect(after.etag).toBe(created.etag);
      },
      { needs: "conditionalWrites" },
    );

    ctx.rule(
      'parallel writes with ifNoneMatch: "*": exactly one creates the file',
      async (env) => {
        const path = env.at("/race.txt");
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => env.backend.write(path, `writer ${i}`, { ifNoneMatch: "*" })),
        );
        const winners = results.flatMap((r, i) => (r.error === undefined ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (r.error !== undefined) expect(r.code).toBe("conflict");
        expect((await env.backend.read(path)).content).toBe(`writer ${winners[0]}`);
      },
      { needs: "conditionalWrites" },
    );

    ctx.rule(
      "ifMatch on a missing file is conflict and creates nothing",
      async (env) => {
        const path = env.at("/absent.txt");
        expectFailure(await env.backend.write(path, "x", { ifMatch: "some-etag" }), "conflict");
        expectFailure(await env.backend.read(path), "file_not_found");
      },
      { needs: "conditionalWrites" },
    );
  });
}
