import type { ErrorCode } from "@deepfs/core";
import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";
import { seed } from "./fixtures.js";
import { PNG_BYTES } from "./read.js";

/** Asserts that an edit fails with `code` and leaves the file's bytes and etag as they were. */
async function expectRefusedEdit(
  env: RuleEnv,
  path: string,
  args: [string, string, boolean?],
  code: ErrorCode,
): Promise<ReturnType<RuleEnv["backend"]["edit"]>> {
  const before = await env.backend.readRaw(path);
  const [download] = await env.backend.downloadFiles([path]);
  const result = await env.backend.edit(path, ...args);
  expectFailure(result, code);
  const after = await env.backend.readRaw(path);
  expect(after.etag, "a failed edit keeps the etag").toBe(before.etag);
  const [again] = await env.backend.downloadFiles([path]);
  expectBytes(again?.content, download?.content as Uint8Array, "a failed edit leaves the bytes untouched");
  return result;
}

export function registerEditRules(ctx: ContractContext): void {
  describe("edit", () => {
    ctx.rule("0 hits is string_not_found and changes nothing", async (env) => {
      await env.backend.write(env.at("/e.txt"), "alpha beta\n");
      await expectRefusedEdit(env, env.at("/e.txt"), ["gamma", "delta"], "string_not_found");
      await expectRefusedEdit(env, env.at("/e.txt"), ["Alpha", "x"], "string_not_found");
    });

    ctx.rule("1 hit replaces it and returns occurrences 1 and the new etag", async (env) => {
      const written = await env.backend.write(env.at("/e.txt"), "alpha beta gamma\n");
      const edited = await env.backend.edit(env.at("/e.txt"), "beta", "BETA");
      expectSuccess(edited);
      expect(edited.path).toBe(env.at("/e.txt"));
      expect(edited.occurrences).toBe(1);
      expect(edited.etag).toBeTypeOf("string");
      expect(edited.etag).not.toBe(written.etag);
      const read = await env.backend.read(env.at("/e.txt"));
      expect(read.content).toBe("alpha BETA gamma");
      expect(read.etag).toBe(edited.etag);
    });

    ctx.rule("many hits without replaceAll is multiple_occurrences naming the count and replace_all", async (env) => {
      await env.backend.write(env.at("/e.txt"), "x=1\nx=2\nx=3\n");
      const result = await expectRefusedEdit(env, env.at("/e.txt"), ["x=", "y=", false], "multiple_occurrences");
      expect(result.error).toContain("3");
      expect(result.error).toContain("replace_all");
    });

    ctx.rule("replaceAll replaces every hit and returns the count", async (env) => {
      await env.backend.write(env.at("/e.txt"), "x=1\nx=2\nx=3\n");
      const edited = await env.backend.edit(env.at("/e.txt"), "x=", "y=", true);
      expectSuccess(edited);
      expect(edited.occurrences).toBe(3);
      expect((await env.backend.readRaw(env.at("/e.txt"))).data?.content).toBe("y=1\ny=2\ny=3\n");
    });

    ctx.rule("replaceAll with a single hit works", async (env) => {
      await env.backend.write(env.at("/e.txt"), "only once\n");
      const edited = await env.backend.edit(env.at("/e.txt"), "once", "twice", true);
      expectSuccess(edited);
      expect(edited.occurrences).toBe(1);
      expect((await env.backend.readRaw(env.at("/e.txt"))).data?.content).toBe("only twice\n");
    });

    ctx.rule("an empty old string on a non-empty file is invalid_argument", async (env) => {
      await env.backend.write(env.at("/e.txt"), "content\n");
      await expectRefusedEdit(env, env.at("/e.txt"), ["", "new"], "invalid_argument");
    });

    ctx.rule("an empty old string on an empty file writes the new string", async (env) => {
      await env.backend.write(env.at("/e.txt"), "");
      const edited = await env.backend.edit(env.at("/e.txt"), "", "fresh\ncontent\n");
      expectSuccess(edited);
      expect((await env.backend.readRaw(env.at("/e.txt"))).data?.content).toBe("fresh\ncontent\n");
    });

    ctx.rule("old === new succeeds without a write (etag unchanged)", async (env) => {
      const written = await env.backend.write(env.at("/e.txt"), "same same\nother\n");
      const edited = await env.backend.edit(env.at("/e.txt"), "other", "other");
      expectSuccess(edited);
      const after = await env.backend.readRaw(env.at("/e.txt"));
      expect(after.etag).toBe(written.etag);
      expect(after.data?.content).toBe("same same\nother\n");
    });

    ctx.rule("multiline old and new strings", async (env) => {
      await env.backend.write(env.at("/e.py"), "def f():\n    return 1\n\ndef g():\n    return 2\n");
      const edited = await env.backend.edit(
        env.at("/e.py"),
        "def f():\n    return 1\n",
        "def f(x):\n    y = x\n    return y\n",
      );
      expectSuccess(edited);
      expect(edited.occurrences).toBe(1);
      expect((await env.backend.readRaw(env.at("/e.py"))).data?.content).toBe(
        "def f(x):\n    y = x\n    return y\n\ndef g():\n    return 2\n",
      );
    });

    ctx.rule("regex metacharacters in old and `$&`-patterns in new are literal", async (env) => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: `${}` is literal text to replace here.
      const meta = ".*+?^${}()|[]\\";
      await env.backend.write(env.at("/e.txt"), `a${meta}b\nab\n`);
      const edited = await env.backend.edit(env.at("/e.txt"), meta, "$&$1$$$`$'");
      expectSuccess(edited);
      expect(edited.occurrences).toBe(1);
      expect((await env.backend.readRaw(env.at("/e.txt"))).data?.content).toBe("a$&$1$$$`$'b\nab\n");
      await expectRefusedEdit(env, env.at("/e.txt"), ["a.b", "x"], "string_not_found");
    });

    ctx.rule("CRLF line endings outside the edit are kept byte for byte", async (env) => {
      await env.backend.write(env.at("/e.txt"), "one\r\ntwo\r\nthree");
      expectSuccess(await env.backend.edit(env.at("/e.txt"), "two", "2"));
      const [download] = await env.backend.downloadFiles([env.at("/e.txt")]);
      expectBytes(download?.content, encodeUtf8("one\r\n2\r\nthree"));
    });

    ctx.rule("a missing file is file_not_found and is not created", async (env) => {
      expectFailure(await env.backend.edit(env.at("/missing.txt"), "a", "b"), "file_not_found");
      expectFailure(await env.backend.edit(env.at("/missing.txt"), "", "b"), "file_not_found");
      expectFailure(await env.backend.read(env.at("/missing.txt")), "file_not_found");
    });

    ctx.rule("a binary file is invalid_argument and is untouched", async (env) => {
      await seed(env, { "/img.png": PNG_BYTES });
      expectFailure(await env.backend.edit(env.at("/img.png"), "PNG", "GIF"), "invalid_argument");
      const [download] = await env.backend.downloadFiles([env.at("/img.png")]);
      expectBytes(download?.content, PNG_BYTES);
    });
  });
}
