import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectBytes, expectSuccess, firstDifference } from "./assertions.js";
import { type ContractContext, HEAVY_TIMEOUT } from "./context.js";
import { createRandom, randomBytes, seed } from "./fixtures.js";

const BLOB_COUNT = 1000;
const BATCH = 100;
const LARGE_FILE_BYTES = 20 * 1024 * 1024;

/** Extensions for the random blobs: binary MIME types and text ones (which must stay exact too). */
const BLOB_EXTENSIONS = [".bin", ".png", ".txt", ".json", ".md", ""];

/** A blob with the byte patterns that break naive storage, chosen by index, or random bytes. */
function blob(i: number, random: () => number): Uint8Array {
  switch (i % 10) {
    case 0:
      return new Uint8Array(0);
    case 1:
      return new Uint8Array([0xef, 0xbb, 0xbf, ...encodeUtf8(`bom ${i}\n`)]);
    case 2:
      return new Uint8Array([0, 0, 0, i & 0xff, 0]);
    case 3:
      return new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]);
    case 4:
      return encodeUtf8(`line ${i}\r\nnext\rlast`);
    default: {
      const bytes = new Uint8Array(Math.floor(random() * 4096));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      return bytes;
    }
  }
}

export function registerTransferRules(ctx: ContractContext): void {
  describe("uploadFiles / downloadFiles", () => {
    ctx.rule("keep the input order", async (env) => {
      const files: Array<[string, Uint8Array]> = [
        [env.at("/t/c.txt"), encodeUtf8("c")],
        [env.at("/t/a.bin"), new Uint8Array([1, 2, 3])],
        [env.at("/t/b/b.txt"), encodeUtf8("b")],
      ];
      const uploaded = await env.backend.uploadFiles(files);
      expect(uploaded).toEqual(files.map(([path]) => expect.objectContaining({ path, error: null })));
      const order = [env.at("/t/b/b.txt"), env.at("/t/c.txt"), env.at("/t/a.bin")];
      const downloaded = await env.backend.downloadFiles(order);
      expect(downloaded.map((d) => d.path)).toEqual(order);
      expect(downloaded.map((d) => d.error)).toEqual([null, null, null]);
      expectBytes(downloaded[0]?.content, encodeUtf8("b"));
      expectBytes(downloaded[1]?.content, encodeUtf8("c"));
      expectBytes(downloaded[2]?.content, new Uint8Array([1, 2, 3]));
      expect(await env.backend.uploadFiles([])).toEqual([]);
      expect(await env.backend.downloadFiles([])).toEqual([]);
    });

    ctx.rule("upload reports an invalid path among valid ones and stores the valid ones", async (env) => {
      const uploaded = await env.backend.uploadFiles([
        [env.at("/u/ok1.txt"), encodeUtf8("one")],
        [`${env.at("/u")}/../../escape.txt`, encodeUtf8("bad")],
        [env.at("/u/ok2.txt"), encodeUtf8("two")],
      ]);
      expect(uploaded.map((u) => u.error)).toEqual([null, "invalid_path", null]);
      expect(uploaded[0]?.path).toBe(env.at("/u/ok1.txt"));
      expect(uploaded[2]?.path).toBe(env.at("/u/ok2.txt"));
      expect((await env.backend.read(env.at("/u/ok1.txt"))).content).toBe("one");
      expect((await env.backend.read(env.at("/u/ok2.txt"))).content).toBe("two");
    });

    ctx.rule("upload to a directory path is is_directory", async (env) => {
      await seed(env, { "/dir/inner.txt": "x" });
      const [entry] = await env.backend.uploadFiles([[env.at("/dir"), encodeUtf8("y")]]);
      expect(entry?.error).toBe("is_directory");
      expect((await env.backend.read(env.at("/dir/inner.txt"))).content).toBe("x");
    });

    ctx.rule("download reports missing, invalid and directory entries among present ones", async (env) => {
      await seed(env, { "/p/one.txt": "1", "/p/two.bin": new Uint8Array([2]), "/p/sub/x.txt": "x" });
      const paths = [env.at("/p/one.txt"), env.at("/p/missing.txt"), "~/x", env.at("/p/sub"), env.at("/p/two.bin")];
      const downloaded = await env.backend.downloadFiles(paths);
      expect(downloaded.map((d) => d.error)).toEqual([null, "file_not_found", "invalid_path", "is_directory", null]);
      expect(downloaded[1]?.path).toBe(env.at("/p/missing.txt"));
      expect(downloaded[3]?.path).toBe(env.at("/p/sub"));
      for (const i of [1, 2, 3]) expect(downloaded[i]?.content, paths[i]).toBeNull();
      expectBytes(downloaded[0]?.content, encodeUtf8("1"));
      expectBytes(downloaded[4]?.content, new Uint8Array([2]));
    });

    ctx.rule("upload overwrites an existing file", async (env) => {
      await env.backend.write(env.at("/o.txt"), "written by write, longer");
      await seed(env, { "/o.txt": "uploaded" });
      expect((await env.backend.read(env.at("/o.txt"))).content).toBe("uploaded");
    });

    ctx.rule(
      "1,000 random binary blobs (NUL, invalid UTF-8, empty, BOM) round-trip bit-exact",
      async (env) => {
        const random = createRandom(0xdeef5);
        const mismatches: string[] = [];
        for (let start = 0; start < BLOB_COUNT; start += BATCH) {
          // One batch at a time, so that memory stays flat whatever the backend buffers.
          const batch: Array<[string, Uint8Array]> = [];
          for (let i = start; i < start + BATCH; i++) {
            const ext = BLOB_EXTENSIONS[i % BLOB_EXTENSIONS.length];
            batch.push([env.at(`/blobs/${Math.floor(i / 250)}/blob-${i}${ext}`), blob(i, random)]);
          }
          const uploaded = await env.backend.uploadFiles(batch);
          expect(uploaded.filter((u) => u.error !== null)).toEqual([]);
          const downloaded = await env.backend.downloadFiles(batch.map(([path]) => path));
          downloaded.forEach((d, j) => {
            const [path, bytes] = batch[j] as [string, Uint8Array];
            if (d.path !== path || d.error !== null || !(d.content instanceof Uint8Array)) {
              mismatches.push(`${path}: path ${d.path}, error ${d.error}`);
            } else {
              const diff = firstDifference(d.content, bytes);
              if (diff !== -1)
                mismatches.push(`${path}: ${d.content.length}/${bytes.length} bytes, differs at ${diff}`);
            }
          });
        }
        expect(mismatches).toEqual([]);
        const listed = await env.backend.glob("**", env.at("/blobs"));
        expectSuccess(listed);
        expect(listed.files).toHaveLength(BLOB_COUNT);
      },
      { timeout: HEAVY_TIMEOUT },
    );

    ctx.rule(
      "a 20 MB file round-trips bit-exact",
      async (env) => {
        const bytes = randomBytes(LARGE_FILE_BYTES, 20);
        const [uploaded] = await env.backend.uploadFiles([[env.at("/large/twenty.bin"), bytes]]);
        expect(uploaded?.error).toBeNull();
        const [downloaded] = await env.backend.downloadFiles([env.at("/large/twenty.bin")]);
        expect(downloaded?.error).toBeNull();
        expectBytes(downloaded?.content, bytes, "20 MB download");
        const listed = await env.backend.ls(env.at("/large"));
        expect(listed.files?.[0]?.size).toBe(LARGE_FILE_BYTES);
      },
      { timeout: HEAVY_TIMEOUT },
    );
  });
}
