import { afterEach, describe, expect, it, vi } from "vitest";
import { CompositeBackend, MemoryBackend } from "../src/index.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("MemoryBackend history", () => {
  it("files given to the constructor are first versions; a snapshot retention pruned is refused, saying why", async () => {
    const files = new MemoryBackend({ files: { "/seed.txt": "seed" }, history: { maxVersions: 2 } });
    expect((await files.history("/seed.txt")).versions?.map((v) => v.op)).toEqual(["write"]);
    const snap = (await files.snapshot()).snapshot as string;
    await files.write("/seed.txt", "two");
    expect((await files.changesSince(snap)).changes).toEqual([{ path: "/seed.txt", change: "modified" }]);
    await files.write("/seed.txt", "three");
    const pruned = await files.changesSince(snap);
    expect(pruned.code).toBe("unsupported");
    expect(pruned.error).toContain("no longer reaches back to the snapshot");
    expect(pruned.error).toContain("'/seed.txt'");
    expect((await files.restoreSnapshot(snap, { dryRun: true })).code).toBe("unsupported");
  });

  it("drops versions older than maxAgeMs, always keeping the newest", async () => {
    vi.useFakeTimers({ now: new Date("2026-01-01T00:00:00Z"), toFake: ["Date"] });
    const files = new MemoryBackend({ history: { maxAgeMs: 60_000 } });
    await files.write("/a.txt", "1");
    await files.write("/a.txt", "2");
    vi.setSystemTime(new Date("2026-01-01T00:02:00Z"));
    expect((await files.history("/a.txt")).versions?.length).toBe(1);
    await files.write("/a.txt", "3");
    expect((await files.history("/a.txt")).versions?.length).toBe(1);
  });

  it("says which version is missing, which is a deletion, and validates arguments", async () => {
    const files = new MemoryBackend({ history: true });
    await files.write("/a.txt", "a");
    await files.delete("/a.txt");
    const [tomb] = (await files.history("/a.txt")).versions ?? [];
    expect((await files.readVersion("/a.txt", tomb?.version as string)).error).toBe(
      `Version '${tomb?.version}' of '/a.txt' is a deletion: it has no content to read or restore`,
    );
    expect((await files.readVersion("/a.txt", "v999")).error).toBe("'/a.txt' has no version 'v999'");
    expect((await files.history("/a.txt", { limit: 0 })).code).toBe("invalid_argument");
    expect((await files.restore("/a.txt", undefined as unknown as string)).code).toBe("invalid_argument");
    expect((await files.changesSince("")).code).toBe("invalid_argument");
  });

  it("a read-only store refuses restore before reading anything", async () => {
    const files = new MemoryBackend({ history: true });
    await files.write("/a.txt", "a");
    const [v] = (await files.history("/a.txt")).versions ?? [];
    const router = new CompositeBackend(new MemoryBackend({ history: true }), {
      "/ro/": { backend: files, readOnly: true },
    });
    expect((await router.restore("/ro/a.txt", v?.version as string)).code).toBe("read_only");
    expect((await router.history("/ro/a.txt")).versions?.length).toBe(1);
  });
});
