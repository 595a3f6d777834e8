// The store's limits travel in the driver's capabilities (the read limit, grep's bounds), so that an
// edit never makes a file the store then refuses to read; a version over the read limit is refused
// like the live file (its content never crosses the wire), and can still be restored.
import { DeepfsError, withQuota } from "@deepfs/core";
import { memberDriver } from "@deepfs/core/kit";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresBackend } from "../src/index.js";
import { countingClient, dropTable, randomName, skipReason } from "./support.js";

const MIB = 1024 * 1024;

describe.skipIf(skipReason)("PostgresBackend store limits", () => {
  const table = randomName("slimits");
  const { sql, received } = countingClient(randomName("store_limits"), 2);
  const backendOf = (options: { maxFileSizeMb?: number; maxGrepMatches?: number; maxGrepTextLength?: number } = {}) =>
    new PostgresBackend({ sql, table, namespace: randomName("ns"), history: true, ...options });

  afterAll(async () => {
    await dropTable(sql, `${table}_history`);
    await dropTable(sql, table);
    await sql.end();
  });

  it("announces maxFileSizeMb, maxGrepMatches and maxGrepTextLength in its capabilities", () => {
    expect(memberDriver(backendOf()).capabilities.limits).toEqual({ maxFileBytes: 10 * MIB });
    const limited = backendOf({ maxFileSizeMb: 0.5, maxGrepMatches: 7, maxGrepTextLength: 300 });
    expect(memberDriver(limited).capabilities.limits).toEqual({
      maxFileBytes: MIB / 2,
      maxGrepMatches: 7,
      maxGrepTextLength: 300,
    });
  });

  it("refuses grep bounds that are not whole numbers >= 1", () => {
    for (const key of ["maxGrepMatches", "maxGrepTextLength"] as const) {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, "5" as unknown as number]) {
        expect(() => backendOf({ [key]: bad }), `${key} ${String(bad)}`).toThrow(DeepfsError);
        expect(() => backendOf({ [key]: bad }), `${key} ${String(bad)}`).toThrow(`${key} must be an integer >= 1`);
      }
      expect(() => backendOf({ [key]: 1 })).not.toThrow();
    }
  });

  it("grep answers too_large past the configured bounds, and as usual within them", async () => {
    const backend = backendOf({ maxGrepMatches: 5, maxGrepTextLength: 150 });
    expect((await backend.write("/a.txt", "hit\n".repeat(6))).error).toBeUndefined();
    expect((await backend.write("/wide.txt", `hit ${"w".repeat(60)}\n`.repeat(3))).error).toBeUndefined();
    const lines = await backend.grep("hit", "/", "a.txt");
    expect(lines.code).toBe("too_large");
    expect(lines.error).toContain("more than 5 matching lines");
    expect((await backend.grep("hit", "/", "a.txt", 5)).matches?.length).toBe(5);
    const chars = await backend.grep("hit", "/", "wide.txt");
    expect(chars.code).toBe("too_large");
    // 3 lines of 64 characters; with maxCount 1, the line answered and the one that shows more exist.
    expect(chars.error).toContain("more than 150 characters of matching lines");
    expect((await backend.grep("hit", "/", "wide.txt", 1)).matches?.length).toBe(1);
  });

  it("refuses an edit whose result would pass maxFileSizeMb, and changes nothing", async () => {
    const backend = backendOf({ maxFileSizeMb: 1 });
    const text = "ab\n".repeat(200_000); // 600,000 bytes
    expect((await backend.write("/grow.txt", text)).error).toBeUndefined();
    const before = await backend.readRaw("/grow.txt");
    // Every "b" becomes "bbb": 1,000,000 bytes, within 1 MiB; then every "ab" becomes "abab":
    // 1,400,000 bytes, over it (the store could no longer read the file).
    expect((await backend.edit("/grow.txt", "b", "bbb", true)).error).toBeUndefined();
    const refused = await backend.edit("/grow.txt", "ab", "abab", true);
    expect(refused.code).toBe("too_large");
    const after = await backend.readRaw("/grow.txt");
    expect(after.etag).not.toBe(before.etag);
    expect((await backend.downloadFiles(["/grow.txt"]))[0]?.content?.length).toBe(1_000_000);
    expect((await backend.readRaw("/grow.txt")).etag).toBe(after.etag);
  });

  it("answers too_large for a version over maxFileSizeMb without sending it, and restores it whole", async () => {
    const backend = backendOf({ maxFileSizeMb: 1 });
    const big = Buffer.from("big line of text\n".repeat(150_000)); // 2,550,000 bytes
    expect((await backend.uploadFiles([["/v.txt", big]]))[0]?.error).toBeNull();
    expect((await backend.write("/v.txt", "small now\n")).error).toBeUndefined();
    const [small, large] = (await backend.history("/v.txt")).versions ?? [];
    expect(large?.size).toBe(big.length);
    const before = received();
    const refused = await backend.readVersion("/v.txt", large?.version ?? "");
    expect(refused.code).toBe("too_large");
    expect(refused.error).toMatch(/2550000 bytes, over the maxFileSizeMb limit of 1 MiB/);
    expect(received() - before).toBeLessThan(64 * 1024);
    expect(await backend.readVersion("/v.txt", small?.version ?? "")).toMatchObject({
      data: { content: "small now\n" },
    });
    // A restore writes the bytes back into the store, never into an answer: whatever their size.
    const restored = await backend.restore("/v.txt", large?.version ?? "");
    expect(restored.error).toBeUndefined();
    expect(Buffer.from((await backend.downloadFiles(["/v.txt"]))[0]?.content ?? []).equals(big)).toBe(true);
    expect((await backend.history("/v.txt")).versions?.[0]).toMatchObject({ op: "restore", size: big.length });
    // Under a layer that drops the native restore, the facade reads the version whole to write it back.
    expect((await backend.write("/v.txt", "small again\n")).error).toBeUndefined();
    const layered = withQuota(backend, { maxBytes: 10 * 1024 * 1024 });
    expect((await layered.readVersion("/v.txt", large?.version ?? "")).code).toBe("too_large");
    expect((await layered.restore("/v.txt", large?.version ?? "")).error).toBeUndefined();
    expect(Buffer.from((await backend.downloadFiles(["/v.txt"]))[0]?.content ?? []).equals(big)).toBe(true);
  });
});
