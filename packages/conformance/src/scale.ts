import { comparePaths, encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess, pathsOf } from "./assertions.js";
import { type ContractContext, HEAVY_TIMEOUT } from "./context.js";

const FILE_COUNT = 2500;
const BATCH = 250;

export function registerScaleRules(ctx: ContractContext): void {
  describe("scale", () => {
    ctx.rule(
      "2,500 files in one directory are all listed by ls and glob",
      async (env) => {
        const paths = Array.from({ length: FILE_COUNT }, (_, i) =>
          env.at(`/many/file-${String(i).padStart(4, "0")}.txt`),
        );
        for (let i = 0; i < paths.length; i += BATCH) {
          const batch = paths.slice(i, i + BATCH).map((p) => [p, encodeUtf8(p)] as [string, Uint8Array]);
          const uploaded = await env.backend.uploadFiles(batch);
          expect(uploaded.filter((u) => u.error !== null)).toEqual([]);
        }
        const expected = [...paths].sort(comparePaths);
        const listed = await env.backend.ls(env.at("/many"));
        expectSuccess(listed);
        expect(pathsOf(listed.files)).toEqual(expected);
        const globbed = await env.backend.glob("*.txt", env.at("/many"));
        expectSuccess(globbed);
        expect(pathsOf(globbed.files)).toEqual(expected);
        expect(globbed.truncated ?? false).toBe(false);
        const found = await env.backend.grep("file-2499", env.at("/many"));
        expect(found.matches).toEqual([
          { path: env.at("/many/file-2499.txt"), line: 1, text: env.at("/many/file-2499.txt") },
        ]);
      },
      { timeout: HEAVY_TIMEOUT },
    );

    ctx.rule(
      "grep answers a file with 200,000 matching lines in full, without throwing",
      async (env) => {
        // Past ~125,000 entries, spreading one file's matches into `push` overflows the stack.
        const lines = 200_000;
        const path = env.at("/tall/lines.txt");
        const [uploaded] = await env.backend.uploadFiles([[path, encodeUtf8("hit\n".repeat(lines))]]);
        expect(uploaded?.error).toBeNull();
        const found = await env.backend.grep("hit", env.at("/tall"));
        expectSuccess(found);
        expect(found.truncated ?? false).toBe(false);
        expect(found.matches?.length).toBe(lines);
        expect(found.matches?.every((m, i) => m.path === path && m.line === i + 1 && m.text === "hit")).toBe(true);
        expect(await env.backend.grep("hit", env.at("/tall"), null, 2)).toEqual({
          matches: [
            { path, line: 1, text: "hit" },
            { path, line: 2, text: "hit" },
          ],
          truncated: true,
        });
      },
      { timeout: HEAVY_TIMEOUT },
    );
  });
}
