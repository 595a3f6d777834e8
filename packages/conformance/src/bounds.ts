import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** Asserts that the file at `path` still has the etag and bytes of `before`. */
async function expectUnchanged(env: RuleEnv, path: string, before: { etag?: string; bytes: Uint8Array }) {
  expect((await env.backend.readRaw(path)).etag, "a refused edit keeps the etag").toBe(before.etag);
  const [after] = await env.backend.downloadFiles([path]);
  expectBytes(after?.content, before.bytes, "a refused edit leaves the bytes untouched");
}

/**
 * Hostile sizes: small arguments that would make a call build something huge. An edit whose
 * result would exceed the edit limit (64 MiB by default, or a store's smaller read limit) answers
 * `too_large` before building it; grep with a cap reads only as many lines as it answers.
 */
export function registerBoundsRules(ctx: ContractContext): void {
  describe("bounds", () => {
    ctx.rule(
      "a replaceAll edit that would multiply a file past the limit is too_large and changes nothing",
      async (env) => {
        const path = env.at("/amp.txt");
        expectSuccess(await env.backend.write(path, "a".repeat(1000)));
        // Growing 1,000-fold to 1 MB is well under any limit and works.
        const grown = await env.backend.edit(path, "a", "a".repeat(1000), true);
        expectSuccess(grown);
        expect(grown.occurrences).toBe(1000);
        const bytes = encodeUtf8("a".repeat(1_000_000));
        // Another 140-fold would be 140 MB: refused before it is built, naming the path and the size.
        const refused = await env.backend.edit(path, "a", "a".repeat(140), true);
        expectFailure(refused, "too_large");
        expect(refused.error).toContain(path);
        expect(refused.error).toContain("140000000");
        await expectUnchanged(env, path, { etag: grown.etag, bytes });
        const read = await env.backend.read(path, 0, 2);
        expectSuccess(read);
        expect(read.content).toBe("a".repeat(1_000_000));
        expect(read.totalLines).toBe(1);
      },
    );

    ctx.rule("the edit limit counts UTF-8 bytes, not characters", async (env) => {
      const path = env.at("/wide.txt");
      const written = await env.backend.write(path, "a".repeat(1024));
      expectSuccess(written);
      // 1,024 × 32,769 two-byte characters: 33.6 million characters, but 67,110,912 bytes (> 64 MiB).
      const refused = await env.backend.edit(path, "a", "é".repeat(32_769), true);
      expectFailure(refused, "too_large");
      await expectUnchanged(env, path, { etag: written.etag, bytes: encodeUtf8("a".repeat(1024)) });
    });

    ctx.rule("grep with an empty pattern and maxCount 1 over many lines answers the first line", async (env) => {
      const lines = 1_000_000;
      const first = env.at("/tall/a.txt");
      const second = env.at("/tall/b.txt");
      const uploaded = await env.backend.uploadFiles([
        [first, encodeUtf8(`first\n${"x\n".repeat(lines - 1)}`)],
        [second, encodeUtf8("other\n")],
      ]);
      expect(uploaded.map((u) => u.error)).toEqual([null, null]);
      expect(await env.backend.grep("", env.at("/tall"), null, 1)).toEqual({
        matches: [{ path: first, line: 1, text: "first" }],
        truncated: true,
      });
      expect(await env.backend.grep("", first, null, 3)).toEqual({
        matches: [
          { path: first, line: 1, text: "first" },
          { path: first, line: 2, text: "x" },
          { path: first, line: 3, text: "x" },
        ],
        truncated: true,
      });
      const last = await env.backend.grep("", second, null, 5);
      expect(last).toEqual({ matches: [{ path: second, line: 1, text: "other" }] });
    });

    ctx.rule("replacement patterns ($&, $1, $$, $`, $') in new_string stay literal", async (env) => {
      const path = env.at("/dollar.txt");
      const literal = "$&$1$$$`$'";
      expectSuccess(await env.backend.write(path, "a-b-a\n"));
      const every = await env.backend.edit(path, "a", literal, true);
      expectSuccess(every);
      expect(every.occurrences).toBe(2);
      expect((await env.backend.readRaw(path)).data?.content).toBe(`${literal}-b-${literal}\n`);
      const once = await env.backend.edit(path, "-b-", "$&");
      expectSuccess(once);
      expect((await env.backend.readRaw(path)).data?.content).toBe(`${literal}$&${literal}\n`);
      expectSuccess(await env.backend.write(path, "cost: $5 and $5\n"));
      expectSuccess(await env.backend.edit(path, "$5", "$$6", true));
      expect((await env.backend.readRaw(path)).data?.content).toBe("cost: $$6 and $$6\n");
    });
  });
}
