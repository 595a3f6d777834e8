import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { FaultProxy } from "./support/fault-proxy.js";
import {
  bucket,
  configuredBackend,
  endpoint,
  ensureBucket,
  randomPrefix,
  removePrefix,
  skipReason,
  testClient,
} from "./support.js";

/** The order in which a client sent its ListObjectsV2 and GetObject requests ("L" and "G"). */
function recordRequests(client: S3Client): string[] {
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "ListObjectsV2Command") sent.push("L");
      if (context.commandName === "GetObjectCommand") sent.push("G");
      return next(args);
    },
    { step: "initialize", name: "recordRequests" },
  );
  return sent;
}

/** Most GetObject requests a client had in flight at once, each held `delayMs` like a distant store. */
function countGetsInFlight(client: S3Client, delayMs: number): { peak: number } {
  const seen = { peak: 0 };
  let current = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "GetObjectCommand") return next(args);
      seen.peak = Math.max(seen.peak, ++current);
      try {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return await next(args);
      } finally {
        current--;
      }
    },
    { step: "initialize", name: "countGetsInFlight" },
  );
  return seen;
}

const COUNT = 50;
const names = Array.from({ length: COUNT }, (_, i) => `f${String(i).padStart(2, "0")}.txt`);
/** Every file holds two matching lines. */
const allMatches = names.flatMap((name, i) => [
  { path: `/${name}`, line: 1, text: `needle ${i}` },
  { path: `/${name}`, line: 3, text: "needle again" },
]);

// Small listing pages (listPageSize) make many pages out of few keys, so the pipeline between the
// listing and the GETs shows without seeding thousands of objects.
describe.skipIf(skipReason)("S3Backend grep pipelines the listing into the GETs", () => {
  const client = testClient();
  const prefix = randomPrefix("pipeline");

  beforeAll(async () => {
    await ensureBucket(client);
    const limit = pLimit(16);
    await Promise.all(
      names.map((name, i) =>
        limit(() =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `${prefix}/${name}`,
              Body: `needle ${i}\nhay\nneedle again\n`,
            }),
          ),
        ),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("searches objects of the first pages while later pages are still listed, in path order", async () => {
    const recorded = testClient();
    const sent = recordRequests(recorded);
    const backend = new S3Backend({ client: recorded, bucket, prefix, listPageSize: 7, grepConcurrency: 4 });
    expect(await backend.grep("needle")).toEqual({ matches: allMatches });
    expect(sent.filter((r) => r === "L")).toHaveLength(Math.ceil(COUNT / 7));
    expect(sent.filter((r) => r === "G")).toHaveLength(COUNT);
    // Listing everything first would send every "L" before the first "G".
    expect(sent.indexOf("G")).toBeLessThan(sent.lastIndexOf("L"));
    recorded.destroy();
  });

  it("stops the listing and the GETs once maxCount is certain", async () => {
    const recorded = testClient();
    const sent = recordRequests(recorded);
    const backend = new S3Backend({ client: recorded, bucket, prefix, listPageSize: 7, grepConcurrency: 2 });
    expect(await backend.grep("needle", "/", null, 3)).toEqual({ matches: allMatches.slice(0, 3), truncated: true });
    // The window (4 × concurrency) bounds the GETs started before the stop, and the listing runs
    // about one page ahead of them: far from the 8 pages and 50 GETs of the whole prefix.
    expect(sent.filter((r) => r === "G").length).toBeLessThanOrEqual(8);
    expect(sent.filter((r) => r === "L").length).toBeLessThanOrEqual(3);
    recorded.destroy();
  });

  it("never has more GETs in flight than grepConcurrency, whatever the latency it observes", async () => {
    for (const grepConcurrency of [1, 3, 16]) {
      const counted = testClient();
      const inFlight = countGetsInFlight(counted, 10);
      const backend = new S3Backend({ client: counted, bucket, prefix, listPageSize: 20, grepConcurrency });
      expect(await backend.grep("needle")).toEqual({ matches: allMatches });
      expect(inFlight.peak).toBeLessThanOrEqual(grepConcurrency);
      // Sequential with a cap of 1; parallel otherwise (the adaptive limit starts at 4 or the cap).
      expect(inFlight.peak).toBeGreaterThanOrEqual(Math.min(grepConcurrency, 3));
      counted.destroy();
    }
  });

  it("gives the same answer with the server's page size and with one key per page", async () => {
    for (const listPageSize of [undefined, 1]) {
      const backend = new S3Backend({
        client,
        bucket,
        prefix,
        grepConcurrency: 3,
        ...(listPageSize && { listPageSize }),
      });
      expect(await backend.grep("again", "/", "f1*")).toEqual({
        matches: allMatches.filter((m) => m.path.startsWith("/f1") && m.line === 3),
      });
    }
  });

  describe("failures on the wire", () => {
    let proxy: FaultProxy;
    let backend: S3Backend;
    beforeAll(async () => {
      proxy = await FaultProxy.start(endpoint ?? "");
      backend = configuredBackend(prefix, { endpointUrl: proxy.url, maxRetries: 0, listPageSize: 7 });
    });
    afterAll(async () => {
      await backend?.close();
      await proxy?.close();
    });

    it("reports a failing GET instead of dropping the object", async () => {
      proxy.fail(Number.POSITIVE_INFINITY, { method: "GET", url: /f37\.txt/, status: 403, code: "AccessDenied" });
      const result = await backend.grep("needle");
      proxy.heal();
      expect(result.matches).toBeUndefined();
      expect(result.code).toBe("permission_denied");
      expect(result.error).toContain("/f37.txt");
    });

    it("reports a listing page that fails after the searches started", async () => {
      proxy.fail(Number.POSITIVE_INFINITY, {
        method: "GET",
        url: /continuation-token=/,
        status: 500,
        code: "InternalError",
      });
      const result = await backend.grep("needle");
      proxy.heal();
      expect(result.matches).toBeUndefined();
      expect(result.code).toBe("backend_unavailable");
    });
  });
});
