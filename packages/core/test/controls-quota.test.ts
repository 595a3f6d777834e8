import { describe, expect, it } from "vitest";
import { CompositeBackend, DeepfsError, MemoryBackend, StateBackend, withQuota } from "../src/index.js";
import type { BackendProtocol } from "../src/protocol.js";
import { withNativeRestore } from "./support/native-restore.js";

/** The real totals, by listing the base. */
async function totals(backend: BackendProtocol): Promise<{ bytes: number; files: number }> {
  const files = (await backend.glob("**", "/")).files ?? [];
  return { bytes: files.reduce((sum, f) => sum + (f.size ?? 0), 0), files: files.length };
}

describe("withQuota", () => {
  it("counts what is there on first use, then every write, overwrite, edit, upload and delete", async () => {
    const inner = new MemoryBackend({ files: { "/seed/a.txt": "12345", "/seed/b.txt": "héllo" } });
    const quota = withQuota(inner, { maxBytes: 1000 });
    expect(await quota.usage()).toEqual({ bytes: 11, files: 2 });
    await quota.write("/x.txt", "abc");
    expect(await quota.usage()).toEqual({ bytes: 14, files: 3 });
    await quota.write("/x.txt", "a");
    expect(await quota.usage()).toEqual({ bytes: 12, files: 3 });
    await quota.edit("/x.txt", "a", "aaaa");
    expect(await quota.usage()).toEqual({ bytes: 15, files: 3 });
    await quota.uploadFiles([
      ["/u/1.bin", new Uint8Array(10)],
      ["/u/2.bin", new Uint8Array(20)],
    ]);
    expect(await quota.usage()).toEqual({ bytes: 45, files: 5 });
    await quota.delete("/seed");
    expect(await quota.usage()).toEqual({ bytes: 34, files: 3 });
    await quota.delete("/x.txt");
    expect(await quota.usage()).toEqual(await totals(inner));
  });

  it("refuses what would exceed each limit with too_large, naming the limit and the usage, and changes nothing", async () => {
    const inner = new MemoryBackend({ files: { "/a.txt": "0123456789" } });
    const quota = withQuota(inner, { maxBytes: 24, maxFiles: 2, maxFileSize: 13 });
    const big = await quota.write("/b.txt", "x".repeat(14));
    expect(big.code).toBe("too_large");
    expect(big.error).toBe("Writing '/b.txt' would exceed a quota: maxFileSize is 13 bytes and the file would have 14");
    await quota.write("/b.txt", "x".repeat(12));
    const bytes = await quota.edit("/a.txt", "0123456789", "0123456789abc");
    expect(bytes.code).toBe("too_large");
    expect(bytes.error).toBe(
      "Editing '/a.txt' would exceed a quota: maxBytes is 24, 22 bytes are used and this adds 3",
    );
    const files = await quota.uploadFiles([["/c.bin", new Uint8Array(1)]]);
    expect(files[0]?.code).toBe("too_large");
    expect(files[0]?.message).toBe("Uploading '/c.bin' would exceed a quota: maxFiles is 2 and 2 files are stored");
    expect((await inner.read("/a.txt")).content).toBe("0123456789");
    expect((await inner.read("/c.bin")).code).toBe("file_not_found");
    // Shrinking, or an overwrite of the same size, always fits.
    expect((await quota.write("/a.txt", "0")).code).toBeUndefined();
    expect((await quota.write("/a.txt", "0123456789ab")).code).toBeUndefined();
    expect(await quota.usage()).toEqual({ bytes: 24, files: 2 });
    expect(await quota.usage()).toEqual(await totals(inner));
  });

  it("never lets concurrent writers exceed maxFiles or maxBytes, and usage equals the real totals after", async () => {
    for (const inner of [new MemoryBackend(), new StateBackend()] as BackendProtocol[]) {
      const quota = withQuota(inner, { maxFiles: 20, maxBytes: 1000 });
      const writes = Array.from({ length: 60 }, (_, i) =>
        quota.write(`/w/${i % 45}.txt`, "x".repeat(10 + (i % 7) * 10)),
      );
      const uploads = Array.from({ length: 30 }, (_, i) =>
        quota.uploadFiles([
          [`/u/${i}.bin`, new Uint8Array(40)],
          [`/w/${i}.txt`, new Uint8Array(5)],
        ]),
      );
      const deletes = Array.from({ length: 10 }, (_, i) => quota.delete(`/w/${i}.txt`));
      const answers = await Promise.all([...writes, ...uploads, ...deletes]);
      const refused = answers.flat().filter((a) => "code" in a && a.code === "too_large");
      expect(refused.length).toBeGreaterThan(0);
      const real = await totals(inner);
      expect(real.files).toBeLessThanOrEqual(20);
      expect(real.bytes).toBeLessThanOrEqual(1000);
      expect(await quota.usage()).toEqual(real);
    }
  });

  it("counts through a router and as a route", async () => {
    const mounted = new MemoryBackend();
    const router = new CompositeBackend(new MemoryBackend(), { "/mnt/": withQuota(mounted, { maxFiles: 1 }) });
    expect((await router.write("/mnt/a.txt", "a")).code).toBeUndefined();
    expect((await router.write("/mnt/b.txt", "b")).code).toBe("too_large");
    expect((await router.write("/b.txt", "b")).code).toBeUndefined();
    const outer = withQuota(router, { maxBytes: 3 });
    expect(await outer.usage()).toEqual({ bytes: 2, files: 2 });
    expect((await outer.write("/c.txt", "cc")).code).toBe("too_large");
  });

  it("counts a path named twice in one upload batch as what its last copy leaves, on every kind of member", async () => {
    for (const inner of [new MemoryBackend(), new StateBackend(), new CompositeBackend(new MemoryBackend(), {})]) {
      const quota = withQuota(inner, { maxBytes: 1000 });
      await quota.write("/f.txt", "x".repeat(900));
      const answers = await quota.uploadFiles([
        ["/f.txt", new Uint8Array(0)],
        ["/g.bin", new Uint8Array(50)],
        ["/f.txt", new Uint8Array(900)],
      ]);
      expect(answers.map((a) => a.error)).toEqual([null, null, null]);
      expect(await quota.usage()).toEqual({ bytes: 950, files: 2 });
      expect(await quota.usage()).toEqual(await totals(inner));
      // The next write sees the real usage: what stays under the limit is taken, more is refused.
      expect((await quota.write("/h.txt", "x".repeat(51))).code).toBe("too_large");
      expect((await quota.write("/h.txt", "x".repeat(50))).error).toBeUndefined();
      // Copies of one path are written in the order given: the last one is what stays.
      await quota.uploadFiles([
        ["/f.txt", new Uint8Array(1)],
        ["/f.txt", new Uint8Array(2)],
      ]);
      expect((await quota.downloadFiles(["/f.txt"]))[0]?.content?.byteLength).toBe(2);
      expect(await quota.usage()).toEqual(await totals(inner));
    }
  });

  it("counts a restore as a write", async () => {
    const inner = new MemoryBackend({ history: true });
    await inner.write("/h.txt", "x".repeat(10));
    await inner.write("/h.txt", "x");
    const quota = withQuota(inner, { maxBytes: 5 });
    const old = (await quota.history("/h.txt")).versions?.[1]?.version as string;
    const restored = await quota.restore("/h.txt", old);
    expect(restored.code).toBe("too_large");
    expect((await inner.read("/h.txt")).content).toBe("x");
  });

  it("plans a store's native restore by the version's size, and keeps it native", async () => {
    const inner = new MemoryBackend({ history: true });
    await inner.write("/h.txt", "x".repeat(10));
    await inner.write("/h.txt", "x");
    await inner.write("/small.txt", "abc");
    await inner.write("/small.txt", "abcdef");
    // The store restores by itself (as S3 copies a version inside the bucket): counted here.
    const natively = withNativeRestore(inner);
    const quota = withQuota(inner, { maxBytes: 8 });
    expect(await quota.usage()).toEqual({ bytes: 7, files: 2 });
    const big = (await quota.history("/h.txt")).versions?.[1]?.version as string;
    const refused = await quota.restore("/h.txt", big);
    expect(refused.code).toBe("too_large");
    expect(natively).toEqual([]);
    const smaller = (await quota.history("/small.txt")).versions?.[1]?.version as string;
    expect((await quota.restore("/small.txt", smaller)).error).toBeUndefined();
    expect(natively).toEqual(["/small.txt"]);
    expect(await quota.usage()).toEqual({ bytes: 4, files: 2 });
    expect(await quota.usage()).toEqual(await totals(inner));
    expect((await quota.restore("/small.txt", "no-such-version")).code).toBe("file_not_found");
  });

  it("refuses bad limits with a DeepfsError", () => {
    for (const limits of [null, { maxBytes: -1 }, { maxFiles: 1.5 }, { maxFileSize: "1" }]) {
      expect(() => withQuota(new MemoryBackend(), limits as never), JSON.stringify(limits)).toThrow(DeepfsError);
    }
  });
});
