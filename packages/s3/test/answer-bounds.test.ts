// grep's answer is bounded (maxGrepMatches, maxGrepTextLength) by the S3 search itself: past the
// bounds it answers too_large and stops listing and fetching at once, whatever the order it
// searches in (no cap: any order; a cap: path order). The read limit and grep's bounds travel in
// the driver's capabilities, and an edit never makes a file over the read limit.
import type { S3Client } from "@aws-sdk/client-s3";
import { DeepfsError, parseGrepArgs } from "@deepfs/core";
import { DriverBackend, isFault } from "@deepfs/core/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend, type S3ClientOptions } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

const MIB = 1024 * 1024;
const OBJECTS = 200;

/** A client counting the GetObject requests it sends. */
function countingGets(): { client: S3Client; gets: { count: number } } {
  const client = testClient();
  const gets = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "GetObjectCommand") gets.count++;
      return next(args);
    },
    { step: "initialize", name: "countGets" },
  );
  return { client, gets };
}

describe.skipIf(skipReason)("S3 grep answer bounds", () => {
  const plain = testClient();
  const prefix = randomPrefix("bounds");
  const seeder = new S3Backend({ client: plain, bucket, prefix, transferConcurrency: 16 });

  beforeAll(async () => {
    await ensureBucket(plain);
    // 200 objects of one matching line of 100 characters each, and a few more in /few.
    const line = (i: number) => `hit ${String(i).padStart(3, "0")} ${"x".repeat(92)}\n`;
    const files: Array<[string, Uint8Array]> = Array.from({ length: OBJECTS }, (_, i) => [
      `/many/f${String(i).padStart(3, "0")}.txt`,
      Buffer.from(line(i)),
    ]);
    files.push(["/few/a.txt", Buffer.from("hit\nhit\n")], ["/few/b.txt", Buffer.from("hit\nhit\n")]);
    const uploaded = await seeder.uploadFiles(files);
    expect(uploaded.filter((u) => u.error !== null)).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await removePrefix(plain, prefix);
    plain.destroy();
  });

  /** A backend over a client counting its GETs. */
  function bounded(options: Partial<S3ClientOptions>) {
    const { client, gets } = countingGets();
    const backend = new S3Backend({ client, bucket, prefix, ...options });
    return { backend, gets, done: () => client.destroy() };
  }

  it("stops at maxGrepMatches without a cap: too_large after far fewer GETs than matching objects", async () => {
    const { backend, gets, done } = bounded({ maxGrepMatches: 10 });
    try {
      const refused = await backend.grep("hit", "/many");
      expect(refused.code).toBe("too_large");
      expect(refused.error).toContain("more than 10 matching lines");
      // 11 matches prove the bound passed; the GETs in flight then are aborted, none started after.
      expect(gets.count).toBeGreaterThanOrEqual(11);
      expect(gets.count).toBeLessThan(60);
    } finally {
      done();
    }
  });

  it("the driver's own search stops at the query's bounds (not the facade's check afterwards)", async () => {
    const { backend, gets, done } = bounded({});
    try {
      const driver = DriverBackend.driverOf(backend);
      const parsed = parseGrepArgs("hit", "/many");
      if (!driver?.grep || !parsed.ok) throw new Error("no driver grep");
      for (const limits of [
        { maxMatches: 10, maxTextLength: 1_000_000 },
        { maxMatches: 1_000_000, maxTextLength: 1000 },
      ]) {
        gets.count = 0;
        const found = await driver.grep({ ...parsed.query, limits }, {});
        expect(isFault(found) ? found : "an answer").toMatchObject({ fault: "too_large", reason: "answer" });
        expect(gets.count).toBeLessThan(60);
      }
    } finally {
      done();
    }
  });

  it("stops at maxGrepMatches with a cap above it (path order), and a cap under it still answers", async () => {
    const { backend, gets, done } = bounded({ maxGrepMatches: 10 });
    try {
      const refused = await backend.grep("hit", "/many", null, 2000);
      expect(refused.code).toBe("too_large");
      expect(gets.count).toBeLessThan(60);
      gets.count = 0;
      const capped = await backend.grep("hit", "/many", null, 10);
      expect(capped.error).toBeUndefined();
      expect(capped.truncated).toBe(true);
      expect(capped.matches?.map((m) => m.path)).toEqual(
        Array.from({ length: 10 }, (_, i) => `/many/f${String(i).padStart(3, "0")}.txt`),
      );
      expect(gets.count).toBeLessThan(60);
      // Within the bound: the whole answer.
      expect((await backend.grep("hit", "/few")).matches).toHaveLength(4);
    } finally {
      done();
    }
  });

  it("stops at maxGrepTextLength, counting characters of matching lines", async () => {
    const { backend, gets, done } = bounded({ maxGrepTextLength: 1000 });
    try {
      const refused = await backend.grep("hit", "/many");
      expect(refused.code).toBe("too_large");
      expect(refused.error).toContain("more than 1,000 characters of matching lines");
      expect(gets.count).toBeLessThan(60);
      // A cap whose answer fits is answered: 9 lines of 100 characters.
      const fits = await backend.grep("hit", "/many", null, 9);
      expect(fits.matches).toHaveLength(9);
      expect(fits.truncated).toBe(true);
    } finally {
      done();
    }
  });

  it("puts the read limit and grep's bounds in the driver's capabilities, and validates them", () => {
    const limitsOf = (options: Partial<S3ClientOptions>) =>
      DriverBackend.driverOf(new S3Backend({ client: plain, bucket, ...options }))?.capabilities.limits;
    expect(limitsOf({})).toEqual({ maxFileBytes: 10 * MIB });
    expect(limitsOf({ maxFileSizeMb: 2, maxGrepMatches: 5, maxGrepTextLength: 300 })).toEqual({
      maxFileBytes: 2 * MIB,
      maxGrepMatches: 5,
      maxGrepTextLength: 300,
    });
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
      for (const name of ["maxGrepMatches", "maxGrepTextLength"] as const) {
        const make = () => new S3Backend({ client: plain, bucket, [name]: bad });
        expect(make, `${name}: ${String(bad)}`).toThrow(DeepfsError);
        expect(make).toThrow(`S3 option ${name} must be a whole number >= 1`);
      }
    }
  });

  it("refuses an edit whose result would pass maxFileSizeMb, leaving the file as it was", async () => {
    const backend = new S3Backend({ client: plain, bucket, prefix, maxFileSizeMb: 1 });
    // 100 bytes under the limit; the first edit would add 200.
    const text = `first\n${"a".repeat(MIB - 100 - 6)}`;
    expect((await backend.write("/edit/near.txt", text)).error).toBeUndefined();
    const before = await backend.readRaw("/edit/near.txt");
    const grown = await backend.edit("/edit/near.txt", "first", `first${"b".repeat(200)}`);
    expect(grown.code).toBe("too_large");
    expect((await backend.readRaw("/edit/near.txt")).etag).toBe(before.etag);
    // An edit that keeps it within the limit is made.
    expect((await backend.edit("/edit/near.txt", "first", `first${"b".repeat(100)}`)).error).toBeUndefined();
  });
});
