import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, isIsoDate } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { numberedLines, seed } from "./fixtures.js";

/** A PNG header followed by bytes that are not UTF-8 (and a NUL). */
export const PNG_BYTES = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x0a, 0x41, 0x00,
]);

export function registerReadRules(ctx: ContractContext): void {
  describe("read", () => {
    ctx.rule("a window returns raw lines offset..offset+limit-1 with the pagination fields", async (env) => {
      await env.backend.write(env.at("/r.txt"), numberedLines(10));
      const read = await env.backend.read(env.at("/r.txt"), 2, 3);
      expectSuccess(read);
      expect(read.content).toBe("line3\nline4\nline5");
      expect(read.startLine).toBe(3);
      expect(read.endLine).toBe(5);
      expect(read.totalLines).toBe(10);
      expect(read.nextOffset).toBe(5);
    });

    ctx.rule("the last window has no nextOffset", async (env) => {
      await env.backend.write(env.at("/r.txt"), numberedLines(10));
      const read = await env.backend.read(env.at("/r.txt"), 8, 5);
      expectSuccess(read);
      expect(read.content).toBe("line9\nline10");
      expect(read.startLine).toBe(9);
      expect(read.endLine).toBe(10);
      expect(read.totalLines).toBe(10);
      expect(read.nextOffset).toBeUndefined();
      const exact = await env.backend.read(env.at("/r.txt"), 5, 5);
      expect(exact.endLine).toBe(10);
      expect(exact.nextOffset, "a window ending on the last line has no nextOffset").toBeUndefined();
    });

    ctx.rule("content has no line numbers", async (env) => {
      await env.backend.write(env.at("/plain.md"), "alpha\nbeta\n");
      const read = await env.backend.read(env.at("/plain.md"));
      expect(read.content).toBe("alpha\nbeta");
      expect(read.mimeType).toBe("text/markdown");
    });

    ctx.rule("a final newline does not count as an extra line", async (env) => {
      await env.backend.write(env.at("/with.txt"), "a\nb\n");
      await env.backend.write(env.at("/without.txt"), "a\nb");
      for (const name of ["/with.txt", "/without.txt"]) {
        const read = await env.backend.read(env.at(name));
        expectSuccess(read);
        expect(read.content, name).toBe("a\nb");
        expect(read.totalLines, name).toBe(2);
        expect(read.endLine, name).toBe(2);
        expect(read.nextOffset, name).toBeUndefined();
      }
      await env.backend.write(env.at("/blank-last.txt"), "a\n\n");
      const blank = await env.backend.read(env.at("/blank-last.txt"));
      expect(blank.content, "an empty last line before the final newline is a line").toBe("a\n");
      expect(blank.totalLines).toBe(2);
    });

    ctx.rule("an offset past the end gives empty content and totalLines", async (env) => {
      await env.backend.write(env.at("/r.txt"), numberedLines(10));
      for (const offset of [10, 50]) {
        const read = await env.backend.read(env.at("/r.txt"), offset, 5);
        expectSuccess(read);
        expect(read.content).toBe("");
        expect(read.totalLines).toBe(10);
        expect(read.nextOffset).toBeUndefined();
      }
    });

    ctx.rule("negative and fractional offset/limit are floored and clamped", async (env) => {
      await env.backend.write(env.at("/r.txt"), numberedLines(10));
      const negative = await env.backend.read(env.at("/r.txt"), -3, 2.7);
      expectSuccess(negative);
      expect(negative.content).toBe("line1\nline2");
      expect(negative.startLine).toBe(1);
      const fractional = await env.backend.read(env.at("/r.txt"), 1.9, 1.2);
      expect(fractional.content).toBe("line2");
      expect(fractional.startLine).toBe(2);
      const zeroLimit = await env.backend.read(env.at("/r.txt"), 0, -5);
      expectSuccess(zeroLimit);
      expect(zeroLimit.content).toBe("");
      expect(zeroLimit.totalLines).toBe(10);
    });

    ctx.rule("an empty file gives empty content and no error", async (env) => {
      expectSuccess(await env.backend.write(env.at("/empty.txt"), ""));
      const read = await env.backend.read(env.at("/empty.txt"));
      expectSuccess(read);
      expect(read.content).toBe("");
      // No range at all, as deepagents' StateBackend: its read_file tool prints an empty "@@  @@"
      // header for `totalLines: 0`.
      expect(read.totalLines).toBeUndefined();
      expect(read.startLine).toBeUndefined();
      expect(read.nextOffset).toBeUndefined();
    });

    ctx.rule("the default limit is 500 lines", async (env) => {
      await env.backend.write(env.at("/long.txt"), numberedLines(1200));
      const first = await env.backend.read(env.at("/long.txt"));
      expectSuccess(first);
      expect(first.content).toBe(numberedLines(500).slice(0, -1));
      expect(first.startLine).toBe(1);
      expect(first.endLine).toBe(500);
      expect(first.totalLines).toBe(1200);
      expect(first.nextOffset).toBe(500);
      const last = await env.backend.read(env.at("/long.txt"), 1000);
      expect(last.content?.toString().split("\n")).toHaveLength(200);
      expect(last.startLine).toBe(1001);
      expect(last.endLine).toBe(1200);
      expect(last.nextOffset).toBeUndefined();
    });

    ctx.rule("CRLF and a missing final newline are preserved byte for byte", async (env) => {
      const crlf = "one\r\ntwo\r\n";
      const noFinal = "x\ny";
      await env.backend.write(env.at("/crlf.txt"), crlf);
      await env.backend.write(env.at("/nofinal.txt"), noFinal);
      await seed(env, { "/up-crlf.txt": crlf, "/up-nofinal.txt": noFinal });
      for (const [name, text] of [
        ["/crlf.txt", crlf],
        ["/nofinal.txt", noFinal],
        ["/up-crlf.txt", crlf],
        ["/up-nofinal.txt", noFinal],
      ] as const) {
        const raw = await env.backend.readRaw(env.at(name));
        expectSuccess(raw);
        expect(raw.data?.content, `readRaw ${name}`).toBe(text);
        const [download] = await env.backend.downloadFiles([env.at(name)]);
        expectBytes(download?.content, encodeUtf8(text), `download ${name}`);
      }
      const read = await env.backend.read(env.at("/crlf.txt"));
      expect(read.content, "read splits on \\n only and keeps \\r").toBe("one\r\ntwo\r");
      expect(read.totalLines).toBe(2);
    });

    ctx.rule("a binary file is returned as bytes with its MIME type, ignoring offset/limit", async (env) => {
      await seed(env, { "/img.png": PNG_BYTES });
      const read = await env.backend.read(env.at("/img.png"));
      expectSuccess(read);
      expectBytes(read.content, PNG_BYTES);
      expect(read.mimeType).toBe("image/png");
      const windowed = await env.backend.read(env.at("/img.png"), 1, 1);
      expectBytes(windowed.content, PNG_BYTES, "read with offset/limit");
      const raw = await env.backend.readRaw(env.at("/img.png"));
      expectSuccess(raw);
      expectBytes(raw.data?.content, PNG_BYTES, "readRaw content");
      expect((raw.data as { mimeType?: string }).mimeType).toBe("image/png");
    });

    ctx.rule("a missing file is file_not_found", async (env) => {
      expectFailure(await env.backend.read(env.at("/missing.txt")), "file_not_found");
      expectFailure(await env.backend.read(env.at("/no/such/dir/missing.txt")), "file_not_found");
    });

    ctx.rule("a directory is is_directory", async (env) => {
      await env.backend.write(env.at("/d/f.txt"), "x");
      expectFailure(await env.backend.read(env.at("/d")), "is_directory");
      expectFailure(await env.backend.readRaw(env.at("/d")), "is_directory");
    });

    ctx.rule("readRaw returns FileData v2 with ISO timestamps", async (env) => {
      await env.backend.write(env.at("/raw.json"), '{"a":1}\n');
      const raw = await env.backend.readRaw(env.at("/raw.json"));
      expectSuccess(raw);
      const data = raw.data as { content: unknown; mimeType?: string; created_at: string; modified_at: string };
      expect(data.content).toBe('{"a":1}\n');
      expect(data.mimeType).toBe("application/json");
      expect(isIsoDate(data.created_at), `created_at ${data.created_at}`).toBe(true);
      expect(isIsoDate(data.modified_at), `modified_at ${data.modified_at}`).toBe(true);
    });

    ctx.rule("readRaw of a missing file returns file_not_found instead of throwing", async (env) => {
      const raw = await env.backend.readRaw(env.at("/missing.txt"));
      expectFailure(raw, "file_not_found");
      expect(raw.data).toBeUndefined();
    });

    ctx.rule("read and readRaw return the etag of the last write", async (env) => {
      const written = await env.backend.write(env.at("/e.txt"), "v1");
      expectSuccess(written);
      expect(written.etag).toBeTypeOf("string");
      expect((await env.backend.read(env.at("/e.txt"))).etag).toBe(written.etag);
      expect((await env.backend.readRaw(env.at("/e.txt"))).etag).toBe(written.etag);
    });
  });
}
