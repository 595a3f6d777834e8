import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
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

/** Attempts per request of the backend under test: maxRetries 2 plus the first. */
const ATTEMPTS = 3;
/** The backend's readTimeout in seconds, far below the 30 s default. */
const READ_TIMEOUT = 1;

// Real faults on the wire: the backend talks to moto through a fault-injecting proxy and owns its
// client (built from S3Config, so the config's retry and timeout settings are what is tested).
describe.skipIf(skipReason)("S3Backend under real faults (fault-injecting proxy in front of moto)", () => {
  const plain = testClient();
  const prefix = randomPrefix("faults");
  /** Sees the bucket directly, never through the proxy. */
  const observer = new S3Backend({ client: plain, bucket, prefix });
  let proxy: FaultProxy;
  let backend: S3Backend;

  beforeAll(async () => {
    await ensureBucket(plain);
    proxy = await FaultProxy.start(endpoint ?? "");
    backend = configuredBackend(prefix, {
      endpointUrl: proxy.url,
      connectTimeout: 1,
      readTimeout: READ_TIMEOUT,
      maxRetries: ATTEMPTS - 1,
    });
  });
  afterEach(() => proxy.heal());
  afterAll(async () => {
    await backend?.close();
    await proxy?.close();
    await removePrefix(plain, prefix);
    plain.destroy();
  });

  /** Runs `action` and returns how many requests the proxy faulted meanwhile. */
  async function injectedDuring<T>(action: () => Promise<T>): Promise<[T, number]> {
    const before = proxy.injected;
    const result = await action();
    return [result, proxy.injected - before];
  }

  it("retries 503 SlowDown and 500 InternalError, then succeeds", async () => {
    await observer.write("/retry.txt", "v1");
    proxy.fail(1, { method: "PUT", status: 503, code: "SlowDown" });
    proxy.fail(1, { method: "PUT", status: 500, code: "InternalError" });
    const [written, putFaults] = await injectedDuring(() => backend.write("/retry.txt", "v2"));
    expect(written.error).toBeUndefined();
    expect(putFaults).toBe(2);

    proxy.fail(2, { method: "GET", status: 500, code: "InternalError" });
    const [read, getFaults] = await injectedDuring(() => backend.read("/retry.txt"));
    expect(read).toMatchObject({ content: "v2", etag: written.etag });
    expect(getFaults).toBe(2);
  });

  it("retries throttling (429, and 503 SlowDown with Retry-After), then succeeds", async () => {
    await observer.write("/throttled.txt", "old");
    proxy.fail(1, { status: 429, code: "TooManyRequests", retryAfter: 1 });
    proxy.fail(1, { status: 503, code: "SlowDown", retryAfter: 1 });
    const [written, faults] = await injectedDuring(() => backend.write("/throttled.txt", "new"));
    expect(written.error).toBeUndefined();
    expect(faults).toBe(2);
    expect((await observer.read("/throttled.txt")).content).toBe("new");
  });

  it("never leaves a half-written file: exhausted retries keep the previous content intact and readable", async () => {
    const before = await observer.write("/doc.txt", "version 1\n");
    proxy.fail(Number.POSITIVE_INFINITY, { method: "PUT", status: 503, code: "ServiceUnavailable" });
    const [failed, faults] = await injectedDuring(() => backend.write("/doc.txt", "version 2\n"));
    expect(failed.code).toBe("backend_unavailable");
    expect(failed.error).toContain("/doc.txt");
    expect(faults).toBe(ATTEMPTS);
    // Still readable through the faulty backend (only PUTs fail), and unchanged.
    expect(await backend.read("/doc.txt")).toMatchObject({ content: "version 1", etag: before.etag });
    expect((await backend.write("/new.txt", "never")).code).toBe("backend_unavailable");
    expect((await observer.read("/new.txt")).code).toBe("file_not_found");
  });

  it("never leaves a half-written multipart upload: a part that keeps failing aborts the whole upload", async () => {
    const original = new TextEncoder().encode("small original");
    await observer.uploadFiles([["/big.bin", original]]);
    const before = await observer.readRaw("/big.bin");
    // 11 MiB: above the 8 MiB multipart threshold, so three 5 MiB-sized parts; part 2 always fails.
    const big = Buffer.alloc(11 * 1024 * 1024, 7);
    proxy.fail(Number.POSITIVE_INFINITY, {
      method: "PUT",
      url: /[?&]partNumber=2(&|$)/,
      status: 500,
      code: "InternalError",
    });
    const [[uploaded], faults] = await injectedDuring(() => backend.uploadFiles([["/big.bin", big]]));
    expect(faults).toBe(ATTEMPTS);
    expect(uploaded).toMatchObject({ path: "/big.bin", code: "backend_unavailable" });
    expect((await observer.readRaw("/big.bin")).etag).toBe(before.etag);
    expect((await observer.downloadFiles(["/big.bin"]))[0]?.content).toEqual(original);
    const pending = await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
    expect(pending.Uploads ?? []).toEqual([]);
  });

  it("loses no update: an edit under injected 503s applies exactly once, or fails with the file unchanged", async () => {
    await observer.write("/counter.txt", "count: 1\n");
    proxy.fail(2, { method: "PUT", status: 503, code: "ServiceUnavailable" });
    const applied = await backend.edit("/counter.txt", "count: 1", "count: 2");
    expect(applied).toMatchObject({ path: "/counter.txt", occurrences: 1 });
    const afterApplied = await observer.read("/counter.txt");
    expect(afterApplied).toMatchObject({ content: "count: 2", etag: applied.etag });

    for (const method of ["PUT", "GET"]) {
      proxy.heal();
      proxy.fail(Number.POSITIVE_INFINITY, { method, status: 503, code: "ServiceUnavailable" });
      const failed = await backend.edit("/counter.txt", "count: 2", "count: 3");
      expect(failed.code, method).toBe("backend_unavailable");
      expect(await observer.read("/counter.txt"), method).toMatchObject({
        content: "count: 2",
        etag: afterApplied.etag,
      });
    }
  });

  it("acknowledges an edit whose PUT landed but whose response was lost, without applying it twice", async () => {
    await observer.write("/ack.txt", "count: 1\n");
    // The SDK retries the reset PUT; its IfMatch no longer holds (412) because the first one landed.
    proxy.loseResponse(1, { method: "PUT" });
    const [edited, faults] = await injectedDuring(() => backend.edit("/ack.txt", "count: 1", "count: 2"));
    expect(faults).toBe(1);
    const stored = await observer.read("/ack.txt");
    expect(stored.content).toBe("count: 2");
    expect(edited).toMatchObject({ path: "/ack.txt", occurrences: 1, etag: stored.etag });

    // The same for a conditional write: its retry fails If-Match, yet the write is the one stored.
    proxy.loseResponse(1, { method: "PUT" });
    const written = await backend.write("/ack.txt", "count: 3\n", { ifMatch: stored.etag });
    const after = await observer.read("/ack.txt");
    expect(after.content).toBe("count: 3");
    expect(written).toMatchObject({ path: "/ack.txt", etag: after.etag });
  });

  it("never applies an edit twice when its PUT landed, its answer was lost and the file changed before the retry", async () => {
    await observer.write("/twice.txt", "END\n");
    // A's PUT lands; before its (lost) answer reaches A, B edits the same file from elsewhere; A's
    // SDK retry then fails If-Match, and the stored object is B's, not A's. Whether A's edit was
    // applied cannot be told from there: it must not be planned again on B's content (which holds it).
    let other: Awaited<ReturnType<S3Backend["edit"]>> | undefined;
    proxy.loseResponse(1, { method: "PUT" }, async () => {
      other = await observer.edit("/twice.txt", "END", "B\nEND");
    });
    const edited = await backend.edit("/twice.txt", "END", "A\nEND");
    expect(other).toMatchObject({ path: "/twice.txt", occurrences: 1 });
    expect(edited.code).toBe("backend_unavailable");
    expect(edited.error).toMatch(/may or may not have been applied/);
    expect((await observer.read("/twice.txt")).content).toBe("A\nB\nEND");

    // The same for a write pinned with ifMatch: unknown, never a `conflict` that says it was not applied.
    const base = await observer.write("/twice.txt", "v1\n");
    proxy.loseResponse(1, { method: "PUT" }, () => observer.write("/twice.txt", "v3\n"));
    const written = await backend.write("/twice.txt", "v2\n", { ifMatch: base.etag });
    expect(written.code).toBe("backend_unavailable");
    expect((await observer.read("/twice.txt")).content).toBe("v3");
  });

  it("loses no update among concurrent edits while PUTs fail now and then", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i}: todo`);
    await observer.write("/tasks.txt", `${lines.join("\n")}\n`);
    proxy.fail(8, { method: "PUT", status: 503, code: "ServiceUnavailable" });
    const results = await Promise.all(
      lines.map((_, i) => backend.edit("/tasks.txt", `line ${i}: todo`, `line ${i}: done`)),
    );
    const final = (await observer.read("/tasks.txt")).content as string;
    results.forEach((result, i) => {
      // Acknowledged edits are all there; failed ones left their line alone.
      if (result.error === undefined) expect(final).toContain(`line ${i}: done`);
      else {
        expect(["backend_unavailable", "conflict"]).toContain(result.code);
        expect(final).toContain(`line ${i}: todo`);
      }
    });
    expect(final.split("\n")).toHaveLength(lines.length);
  });

  it("times out a hung request after readTimeout, retries it, and answers backend_unavailable", async () => {
    await observer.write("/hung.txt", "still here");
    proxy.hang(1, { method: "GET" });
    const [recovered, oneHang] = await injectedDuring(() => backend.read("/hung.txt"));
    expect(recovered.content).toBe("still here");
    expect(oneHang).toBe(1);

    proxy.hang(Number.POSITIVE_INFINITY, { method: "GET" });
    const started = Date.now();
    const [hung, hangs] = await injectedDuring(() => backend.read("/hung.txt"));
    expect(["backend_unavailable", "timeout"]).toContain(hung.code);
    expect(hung.error).toContain("/hung.txt");
    // Every attempt was cut by the configured readTimeout, not the SDK's 30 s default.
    expect(hangs).toBe(ATTEMPTS);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("cancels a hung write through its AbortSignal and writes nothing", async () => {
    proxy.hang(Number.POSITIVE_INFINITY, { method: "PUT" });
    const controller = new AbortController();
    const aborting = new Promise((resolve) => setTimeout(resolve, (READ_TIMEOUT * 1000) / 4)).then(() =>
      controller.abort(),
    );
    const written = await backend.write("/cancelled.txt", "x", { signal: controller.signal });
    await aborting;
    expect(written.code).toBe("aborted");
    expect((await observer.read("/cancelled.txt")).code).toBe("file_not_found");

    // Already aborted: a write sends nothing at all, and an edit changes nothing.
    const requests = proxy.requests;
    expect((await backend.write("/cancelled.txt", "x", { signal: controller.signal })).code).toBe("aborted");
    expect(proxy.requests).toBe(requests);
    expect((await backend.edit("/hung.txt", "still", "gone", false, { signal: controller.signal })).code).toBe(
      "aborted",
    );
    expect((await observer.read("/hung.txt")).content).toBe("still here");
  });

  it("maps 403 to permission_denied without retrying", async () => {
    await observer.write("/secret.txt", "s");
    proxy.fail(1, { method: "GET", status: 403, code: "AccessDenied" });
    const [read, faults] = await injectedDuring(() => backend.read("/secret.txt"));
    expect(read.code).toBe("permission_denied");
    expect(faults).toBe(1);
    proxy.fail(1, { method: "GET", status: 403, code: "AccessDenied" });
    const [download] = await backend.downloadFiles(["/secret.txt"]);
    expect(download).toMatchObject({ error: "permission_denied", code: "permission_denied", content: null });
  });

  it("a listing page that fails while grep still looks its path up as a file is grep's error, never an unhandled rejection", async () => {
    await observer.write("/race/a.txt", "needle\n");
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      // The lookup of "/race" as a file hangs for one attempt (readTimeout, then a retry), while
      // every attempt of the listing below "/race/" fails at once: the page fails first.
      proxy.hang(1, { method: "GET", url: /max-keys=1&prefix=[^&]*%2Frace$/ });
      proxy.fail(Number.POSITIVE_INFINITY, {
        method: "GET",
        url: /list-type=2&prefix=[^&]*%2Frace%2F/,
        status: 500,
        code: "InternalError",
      });
      const [result, faults] = await injectedDuring(() => backend.grep("needle", "/race"));
      expect(result.code).toBe("backend_unavailable");
      expect(faults).toBeGreaterThanOrEqual(ATTEMPTS + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("answers backend_unavailable from every method during an outage, and recovers without a restart", async () => {
    await observer.write("/outage/a.txt", "needle\n");
    proxy.fail(Number.POSITIVE_INFINITY, { status: 500, code: "InternalError" });
    const during = {
      ls: (await backend.ls("/outage")).code,
      glob: (await backend.glob("**", "/outage")).code,
      grep: (await backend.grep("needle", "/outage")).code,
      read: (await backend.read("/outage/a.txt")).code,
      write: (await backend.write("/outage/b.txt", "b")).code,
      edit: (await backend.edit("/outage/a.txt", "needle", "pin")).code,
      delete: (await backend.delete("/outage/a.txt")).code,
      upload: (await backend.uploadFiles([["/outage/c.txt", new Uint8Array([1])]]))[0]?.code,
      download: (await backend.downloadFiles(["/outage/a.txt"]))[0]?.code,
    };
    expect(
      Object.values(during).every((code) => code === "backend_unavailable"),
      JSON.stringify(during),
    ).toBe(true);

    proxy.heal();
    // The same backend instance (same client, same sockets pool) works again.
    expect((await backend.write("/outage/b.txt", "b")).error).toBeUndefined();
    expect((await backend.edit("/outage/a.txt", "needle", "pin")).occurrences).toBe(1);
    expect((await backend.grep("pin", "/outage")).matches).toEqual([{ path: "/outage/a.txt", line: 1, text: "pin" }]);
    expect((await backend.ls("/outage")).files?.map((f) => f.path)).toEqual(["/outage/a.txt", "/outage/b.txt"]);
    expect((await backend.delete("/outage")).error).toBeUndefined();
    expect((await observer.glob("**", "/outage")).files).toEqual([]);
  });
});
