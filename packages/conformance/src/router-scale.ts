import { CompositeBackend, StateBackend } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess } from "./assertions.js";
import { type ContractContext, HEAVY_TIMEOUT } from "./context.js";
import { seed } from "./fixtures.js";

/** Entries a router must merge; past ~125,000 an argument spread while merging overflows the stack. */
const ENTRY_COUNT = 200_000;
const NEEDLE = "bulk-needle";

const DIRS = 1000;

/** `/d000/f000000.txt`-style paths: 1,000 directories of 200 files. */
function bulkPath(i: number): string {
  return `/d${String(i % DIRS).padStart(3, "0")}/f${String(i).padStart(6, "0")}.txt`;
}

/** Every bulk path, already in path order (directory by directory), so the rule needs no sort. */
function bulkPathsInOrder(): string[] {
  const out: string[] = [];
  for (let dir = 0; dir < DIRS; dir++) for (let i = dir; i < ENTRY_COUNT; i += DIRS) out.push(bulkPath(i));
  return out;
}

export function registerRouterScaleRules(ctx: ContractContext): void {
  describe("router scale", () => {
    ctx.rule(
      "a CompositeBackend over this backend merges 200,000 entries in glob and grep without throwing",
      async (env) => {
        await seed(env, { "/own/a.txt": `${NEEDLE}\n`, "/own/z.txt": "nothing here\n" });
        // The bulk member is filled in memory, so the rule costs the same on every backend; the
        // backend under test is the default member and answers its share of each search.
        const files: Record<string, string> = {};
        for (let i = 0; i < ENTRY_COUNT; i++) files[bulkPath(i)] = `${NEEDLE}\n`;
        const bulkMount = env.at("/bulk");
        const router = new CompositeBackend(env.backend, { [bulkMount]: new StateBackend({ files }) });
        // `/bulk/…` sorts before `/own/…` under any root.
        const expected = bulkPathsInOrder().map((path) => `${bulkMount}${path}`);
        expected.push(env.at("/own/a.txt"), env.at("/own/z.txt"));

        const globbed = await router.glob("**/*.txt", env.at("/"));
        expectSuccess(globbed);
        expect(globbed.truncated ?? false).toBe(false);
        expect(globbed.files?.length).toBe(ENTRY_COUNT + 2);
        expect(globbed.files?.every((info, i) => info.path === expected[i])).toBe(true);

        const found = await router.grep(NEEDLE, env.at("/"));
        expectSuccess(found);
        expect(found.truncated ?? false).toBe(false);
        const withNeedle = expected.filter((path) => path !== env.at("/own/z.txt"));
        expect(found.matches?.length).toBe(ENTRY_COUNT + 1);
        expect(found.matches?.every((m, i) => m.path === withNeedle[i] && m.line === 1 && m.text === NEEDLE)).toBe(
          true,
        );

        const capped = await router.grep(NEEDLE, env.at("/"), null, 3);
        expect(capped).toEqual({
          matches: withNeedle.slice(0, 3).map((path) => ({ path, line: 1, text: NEEDLE })),
          truncated: true,
        });
      },
      { timeout: HEAVY_TIMEOUT },
    );
  });
}
