import { Readable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

interface Fault {
  method: string;
  status: number;
  code: string;
  times: number;
}

/**
 * A chaos decorator around the real HTTP handler: it answers the next requests of one method with
 * an S3 error (what a real server cannot be made to do on demand) and passes everything else on.
 */
class ChaosHandler {
  readonly real = new NodeHttpHandler();
  faults: Fault[] = [];
  injected = 0;

  handle(request: { method: string }, options?: unknown) {
    const fault = this.faults.find((f) => f.method === request.method && f.times > 0);
    if (!fault)
      return this.real.handle(
        request as Parameters<NodeHttpHandler["handle"]>[0],
        options as Parameters<NodeHttpHandler["handle"]>[1],
      );
    fault.times--;
    this.injected++;
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected</Message></Error>`;
    return Promise.resolve({
      response: {
        statusCode: fault.status,
        reason: fault.code,
        headers: { "content-type": "application/xml", "x-amz-request-id": "chaos" },
        body: Readable.from([Buffer.from(xml)]),
      },
    });
  }

  updateHttpClientConfig() {}
  httpHandlerConfigs() {
    return {};
  }
  destroy() {
    this.real.destroy();
  }
}

describe.skipIf(skipReason)("S3Backend under injected faults", () => {
  const plain = testClient();
  const prefix = randomPrefix("faults");
  const chaos = new ChaosHandler();
  const config = plain.config;
  const client = new S3Client({
    endpoint: process.env.DEEPFS_S3_ENDPOINT,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: config.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: chaos,
  });
  const backend = new S3Backend({ client, bucket, prefix });
  const observer = new S3Backend({ client: plain, bucket, prefix });

  beforeAll(() => ensureBucket(plain));
  afterAll(async () => {
    await removePrefix(plain, prefix);
    client.destroy();
    plain.destroy();
  });

  it("retries 5xx and throttling, then succeeds", async () => {
    chaos.faults = [
      { method: "PUT", status: 503, code: "SlowDown", times: 1 },
      { method: "PUT", status: 500, code: "InternalError", times: 1 },
    ];
    chaos.injected = 0;
    const written = await backend.write("/retry.txt", "made it");
    expect(written.code).toBeUndefined();
    expect(chaos.injected).toBe(2);
    expect((await observer.read("/retry.txt")).content).toBe("made it");
  });

  it("answers backend_unavailable when retries run out, and writes nothing", async () => {
    chaos.faults = [{ method: "PUT", status: 503, code: "ServiceUnavailable", times: 3 }];
    const written = await backend.write("/never.txt", "lost");
    expect(written.code).toBe("backend_unavailable");
    expect(written.error).toContain("/never.txt");
    expect((await observer.read("/never.txt")).code).toBe("file_not_found");

    chaos.faults = [{ method: "GET", status: 500, code: "InternalError", times: 3 }];
    expect((await backend.read("/retry.txt")).code).toBe("backend_unavailable");
  });

  it("maps 403 to permission_denied without retrying", async () => {
    chaos.faults = [{ method: "GET", status: 403, code: "AccessDenied", times: 1 }];
    chaos.injected = 0;
    expect((await backend.read("/retry.txt")).code).toBe("permission_denied");
    expect(chaos.injected).toBe(1);
    chaos.faults = [{ method: "GET", status: 403, code: "AccessDenied", times: 1 }];
    const [download] = await backend.downloadFiles(["/retry.txt"]);
    expect(download).toMatchObject({ error: "permission_denied", code: "permission_denied", content: null });
  });

  it("honours an AbortSignal on write and edit", async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await backend.write("/aborted.txt", "x", { signal: controller.signal })).code).toBe("aborted");
    expect((await observer.read("/aborted.txt")).code).toBe("file_not_found");
    expect((await backend.edit("/retry.txt", "made", "did", false, { signal: controller.signal })).code).toBe(
      "aborted",
    );
    expect((await observer.read("/retry.txt")).content).toBe("made it");
  });
});
