import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { sleep } from "./fixtures.js";
import { PNG_BYTES } from "./read.js";

export function registerWriteRules(ctx: ContractContext): void {
  describe("write", () => {
    ctx.rule("creates a file and returns its path and an etag", async (env) => {
      const written = await env.backend.write(env.at("/new.txt"), "hello\n");
      expectSuccess(written);
      expect(written.path).toBe(env.at("/new.txt"));
      expect(written.etag).toBeTypeOf("string");
      expect(written.etag?.length).toBeGreaterThan(0);
      const read = await env.backend.read(env.at("/new.txt"));
      expect(read.content).toBe("hello");
      expect(read.mimeType).toBe("text/plain");
    });

    ctx.rule("creates missing parent directories", async (env) => {
      expectSuccess(await env.backend.write(env.at("/p/q/r/s.txt"), "deep"));
      expect(pathsOf((await env.backend.ls(env.at("/p/q/r"))).files)).toEqual([env.at("/p/q/r/s.txt")]);
      expect(pathsOf((await env.backend.ls(env.at("/p"))).files)).toEqual([env.dirEntry("/p/q")]);
      expect((await env.backend.read(env.at("/p/q/r/s.txt"))).content).toBe("deep");
    });

    ctx.rule("overwrites, keeps created_at, advances modified_at and changes the etag", async (env) => {
      const first = await env.backend.write(env.at("/o.txt"), "version one");
      expectSuccess(first);
      const before = await env.backend.readRaw(env.at("/o.txt"));
      // Timestamps have millisecond (or coarser) resolution: let the clock move.
      await sleep(30);
      const second = await env.backend.write(env.at("/o.txt"), "v2");
      expectSuccess(second);
      expect(second.etag).toBeTypeOf("string");
      expect(second.etag, "the etag changes when the content changes").not.toBe(first.etag);
      const after = await env.backend.readRaw(env.at("/o.txt"));
      expect(after.data?.content).toBe("v2");
      expect(after.data?.created_at, "created_at is kept on overwrite").toBe(before.data?.created_at);
      expect(Date.parse(after.data?.modified_at ?? "")).toBeGreaterThanOrEqual(
        Date.parse(before.data?.modified_at ?? ""),
      );
      expect(after.etag).toBe(second.etag);
      expect((await env.backend.read(env.at("/o.txt"))).etag).toBe(second.etag);
      const [download] = await env.backend.downloadFiles([env.at("/o.txt")]);
      expectBytes(download?.content, encodeUtf8("v2"), "no bytes of the longer old content remain");
    });

    ctx.rule("an empty string creates an empty file", async (env) => {
      expectSuccess(await env.backend.write(env.at("/empty.txt"), ""));
      const [download] = await env.backend.downloadFiles([env.at("/empty.txt")]);
      expectBytes(download?.content, new Uint8Array());
      const listed = await env.backend.ls(env.at("/"));
      expect(listed.files?.find((f) => f.path === env.at("/empty.txt"))?.size).toBe(0);
    });

    ctx.rule("a binary path takes base64 content and stores the decoded bytes", async (env) => {
      const written = await env.backend.write(env.at("/img.png"), Buffer.from(PNG_BYTES).toString("base64"));
      expectSuccess(written);
      const [download] = await env.backend.downloadFiles([env.at("/img.png")]);
      expectBytes(download?.content, PNG_BYTES, "downloaded bytes");
      const read = await env.backend.read(env.at("/img.png"));
      expectBytes(read.content, PNG_BYTES, "read content");
      expect(read.mimeType).toBe("image/png");
      const listed = await env.backend.ls(env.at("/"));
      expect(listed.files?.find((f) => f.path === env.at("/img.png"))?.size).toBe(PNG_BYTES.length);
    });

    ctx.rule("invalid base64 for a binary path is invalid_argument and stores nothing", async (env) => {
      expectFailure(await env.backend.write(env.at("/bad.png"), "this is not base64!"), "invalid_argument");
      expectFailure(await env.backend.read(env.at("/bad.png")), "file_not_found");
    });

    ctx.rule("writing to a directory is is_directory", async (env) => {
      await env.backend.write(env.at("/d/f.txt"), "inside");
      expectFailure(await env.backend.write(env.at("/d"), "x"), "is_directory");
      expectFailure(await env.backend.write(env.at("/d/"), "x"), "is_directory");
      expect((await env.backend.read(env.at("/d/f.txt"))).content).toBe("inside");
      expect(pathsOf((await env.backend.ls(env.at("/d"))).files)).toEqual([env.at("/d/f.txt")]);
    });

    ctx.rule("writing to the root directory is is_directory", async (env) => {
      await env.backend.write(env.at("/f.txt"), "x");
      expectFailure(await env.backend.write(env.at("/"), "x"), "is_directory");
    });

    ctx.rule("writing below a file is not_a_directory", async (env) => {
      await env.backend.write(env.at("/f.txt"), "a file");
      expectFailure(await env.backend.write(env.at("/f.txt/g.txt"), "x"), "not_a_directory");
      expectFailure(await env.backend.write(env.at("/f.txt/sub/g.txt"), "x"), "not_a_directory");
      expect((await env.backend.read(env.at("/f.txt"))).content).toBe("a file");
    });
  });
}
