import { encodeUtf8, type GrepLimits, parseGrepArgs } from "@deepfs/core";
import { DriverBackend, isFault, memberDriver } from "@deepfs/core/kit";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess } from "./assertions.js";
import { type ContractContext, HEAVY_TIMEOUT, type RuleEnv } from "./context.js";

/** Asserts that the file at `path` still has the etag and bytes of `before`. */
async function expectUnchanged(env: RuleEnv, path: string, before: { etag?: string; bytes: Uint8Array }) {
  expect((await env.backend.readRaw(path)).etag, "a refused edit keeps the etag").toBe(before.etag);
  const [after] = await env.backend.downloadFiles([path]);
  expectBytes(after?.content, before.bytes, "a refused edit leaves the bytes untouched");
}

/**
 * Hostile sizes: small arguments that would make a call build something huge. An edit whose
 * result would exceed the edit limit (64 MiB by default, or a store's smaller read limit) answers
 * `too_large` before building it; grep with a cap reads only as many lines as it answers; grep's
 * answer is bounded (a million lines, 256 Mi characters by default) by the store's own search.
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

    ctx.rule(
      "a grep whose answer would pass a million lines answers too_large; maxCount still answers",
      async (env) => {
        const dir = env.at("/many");
        const lines = encodeUtf8("x\n".repeat(600_000));
        const uploaded = await env.backend.uploadFiles([
          [env.at("/many/a.txt"), lines],
          [env.at("/many/b.txt"), lines],
        ]);
        expect(uploaded.map((u) => u.error)).toEqual([null, null]);
        const refused = await env.backend.grep("x", dir);
        expectFailure(refused, "too_large");
        expect(refused.error).toContain(dir);
        expect(refused.error).toContain("matching lines");
        expect(refused.error).toContain("maxCount");
        // A cap above the bound does not lift it; a cap under it answers as always.
        expectFailure(await env.backend.grep("x", dir, null, 2_000_000), "too_large");
        expect(await env.backend.grep("x", dir, null, 2)).toEqual({
          matches: [
            { path: env.at("/many/a.txt"), line: 1, text: "x" },
            { path: env.at("/many/a.txt"), line: 2, text: "x" },
          ],
          truncated: true,
        });
        const one = await env.backend.grep("x", env.at("/many/b.txt"));
        expectSuccess(one);
        expect(one.matches?.length).toBe(600_000);
      },
      { timeout: HEAVY_TIMEOUT },
    );

    ctx.rule("grep's bounds are kept by the store's own search, in lines and in characters", async (env) => {
      // The backend's own driver, or the router's adapter over a backend not built on one.
      const driver = memberDriver(env.backend);
      const limits: GrepLimits = { maxMatches: 10, maxTextLength: 1000 };
      const bounded = new DriverBackend(driver, {
        maxGrepMatches: limits.maxMatches,
        maxGrepTextLength: limits.maxTextLength,
      });
      const hits = (n: number, width = 0) =>
        Array.from({ length: n }, (_, i) => `hit ${i}${"y".repeat(width)}\n`).join("");
      const uploaded = await env.backend.uploadFiles([
        [env.at("/lim/a.txt"), encodeUtf8(hits(6))],
        [env.at("/lim/b.txt"), encodeUtf8(hits(5))],
        [env.at("/lim/c.txt"), encodeUtf8("nothing here\n")],
        [env.at("/wide/a.txt"), encodeUtf8(hits(3, 400))],
      ]);
      expect(uploaded.map((u) => u.error)).toEqual([null, null, null, null]);
      // 11 matching lines against a bound of 10.
      const lines = await bounded.grep("hit", env.at("/lim"));
      expectFailure(lines, "too_large");
      expect(lines.error).toContain("more than 10 matching lines");
      expect(await bounded.grep("hit", env.at("/lim"), null, 10)).toMatchObject({ truncated: true });
      expect((await bounded.grep("hit", env.at("/lim"), null, 10)).matches?.length).toBe(10);
      expect((await bounded.grep("hit", env.at("/lim"), "a.txt")).matches?.length).toBe(6);
      expectSuccess(await env.backend.delete(env.at("/lim/b.txt")));
      expectSuccess(await env.backend.write(env.at("/lim/b.txt"), hits(4)));
      expect((await bounded.grep("hit", env.at("/lim"))).matches?.length).toBe(10);
      // 3 lines of 406 characters against a bound of 1,000 characters.
      const chars = await bounded.grep("hit", env.at("/wide"));
      expectFailure(chars, "too_large");
      expect(chars.error).toContain("more than 1,000 characters of matching lines");
      expect((await bounded.grep("hit", env.at("/wide"), null, 1)).matches?.length).toBe(1);
      // The store's own search stops there too: not an answer the facade has to refuse afterwards.
      if (driver.grep) {
        expectSuccess(await env.backend.write(env.at("/lim/b.txt"), hits(5)));
        for (const [dir, what] of [
          ["/lim", "lines"],
          ["/wide", "characters"],
        ] as const) {
          const parsed = parseGrepArgs("hit", env.at(dir));
          if (!parsed.ok) throw new Error(parsed.error);
          const found = await driver.grep({ ...parsed.query, limits }, {});
          expect(isFault(found) ? found.fault : `an answer of ${found.matches.length} matches`, what).toBe("too_large");
        }
      }
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
