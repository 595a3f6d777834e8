import { decodeUtf8Lossy, encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** Text bytes that are not UTF-8: a Latin-1 `é`, a lone continuation byte, a truncated sequence. */
export const INVALID_UTF8 = new Uint8Array([
  ...encodeUtf8("caf"),
  0xe9,
  ...encodeUtf8(" menu\nline two "),
  0x80,
  ...encodeUtf8(" here\nend "),
  0xe4,
  0xb8,
]);

/** What `read` must give for {@link INVALID_UTF8}: the text with U+FFFD in place of each bad sequence. */
const REPLACED = decodeUtf8Lossy(INVALID_UTF8);

async function uploadInvalid(env: RuleEnv, path: string): Promise<void> {
  const [response] = await env.backend.uploadFiles([[env.at(path), INVALID_UTF8]]);
  expect(response?.error, `uploading invalid UTF-8 to ${path}`).toBeNull();
}

/**
 * Text whose bytes are not valid UTF-8: a non-empty file is never presented as empty. `read` gives
 * the text with U+FFFD replacements and `invalidUtf8: true`; `readRaw` and `downloadFiles` the
 * exact bytes; `edit` answers `invalid_argument` and changes nothing; grep skips the file.
 */
export function registerEncodingRules(ctx: ContractContext): void {
  describe("text that is not valid UTF-8", () => {
    ctx.rule("read gives the text with U+FFFD replacements and invalidUtf8: true", async (env) => {
      await uploadInvalid(env, "/x.txt");
      const read = await env.backend.read(env.at("/x.txt"));
      expectSuccess(read);
      expect(read.content).toBe(REPLACED);
      expect(read.content).toContain("caf\uFFFD menu");
      expect(read.mimeType).toBe("text/plain");
      expect(read.invalidUtf8).toBe(true);
      expect(read.totalLines).toBe(3);
      const window = await env.backend.read(env.at("/x.txt"), 1, 1);
      expectSuccess(window);
      expect(window.content).toBe("line two \uFFFD here");
      expect(window).toMatchObject({ startLine: 2, endLine: 2, nextOffset: 2, totalLines: 3, invalidUtf8: true });
    });

    ctx.rule("valid text carries no invalidUtf8 flag", async (env) => {
      await env.backend.uploadFiles([[env.at("/ok.txt"), encodeUtf8("caf\u00e9 \uFFFD\n")]]);
      const read = await env.backend.read(env.at("/ok.txt"));
      expectSuccess(read);
      expect(read.content).toBe("caf\u00e9 \uFFFD");
      expect(read.invalidUtf8 ?? false).toBe(false);
    });

    ctx.rule("readRaw and downloadFiles keep the exact bytes", async (env) => {
      await uploadInvalid(env, "/x.txt");
      const [download] = await env.backend.downloadFiles([env.at("/x.txt")]);
      expect(download?.error).toBeNull();
      expectBytes(download?.content, INVALID_UTF8, "downloaded bytes");
      const raw = await env.backend.readRaw(env.at("/x.txt"));
      expectSuccess(raw);
      expectBytes(raw.data?.content, INVALID_UTF8, "readRaw content");
    });

    ctx.rule("edit answers invalid_argument, says why, and changes nothing", async (env) => {
      await uploadInvalid(env, "/x.txt");
      const before = await env.backend.read(env.at("/x.txt"));
      for (const [oldString, newString] of [
        ["menu", "MENU"],
        ["\uFFFD", "e"],
        ["absent", "x"],
      ] as const) {
        const edit = await env.backend.edit(env.at("/x.txt"), oldString, newString, true);
        expectFailure(edit, "invalid_argument");
        expect(edit.error).toMatch(/not valid UTF-8/);
        expect(edit.error).not.toMatch(/binary/);
      }
      const [download] = await env.backend.downloadFiles([env.at("/x.txt")]);
      expectBytes(download?.content, INVALID_UTF8, "bytes after the refused edits");
      expect((await env.backend.read(env.at("/x.txt"))).etag).toBe(before.etag);
    });

    ctx.rule("grep skips the file, as it skips binary files", async (env) => {
      await uploadInvalid(env, "/x.txt");
      await env.backend.uploadFiles([[env.at("/y.txt"), encodeUtf8("a menu\n")]]);
      for (const pattern of ["menu", "\uFFFD", "line two"]) {
        const result = await env.backend.grep(pattern, env.at("/"));
        expectSuccess(result);
        expect(
          (result.matches ?? []).map((m) => m.path),
          pattern,
        ).toEqual(pattern === "menu" ? [env.at("/y.txt")] : []);
      }
    });

    ctx.rule("writing the file whole replaces it with valid text", async (env) => {
      await uploadInvalid(env, "/x.txt");
      expectSuccess(await env.backend.write(env.at("/x.txt"), "fixed\n"));
      const read = await env.backend.read(env.at("/x.txt"));
      expect(read.content).toBe("fixed");
      expect(read.invalidUtf8 ?? false).toBe(false);
      expectSuccess(await env.backend.edit(env.at("/x.txt"), "fixed", "edited"));
    });
  });
}
