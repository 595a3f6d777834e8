import type { S3Client } from "@aws-sdk/client-s3";
import { DriverBackend } from "@deepfs/core/kit";
import { checkBucket, createS3Client, resolveTuning, type S3ClientOptions, type S3Config } from "./config.js";
import type { S3History } from "./history.js";
import { KeyMapper } from "./keys.js";
import { S3Driver } from "./s3-driver.js";

/**
 * Agent files in an S3 bucket (or any S3-compatible store), one object per file holding exactly
 * the file's bytes under `prefix + path`, so the bucket can be browsed and filled with any S3 tool.
 *
 * Writes honour `ifMatch` / `ifNoneMatch` through S3 conditional writes, edits are a
 * compare-and-swap loop on the ETag, and grep streams objects in parallel. The creation time is
 * kept in the object metadata (`x-amz-meta-created-at`); objects without it use their LastModified.
 * With `history` on, the history methods work on the bucket's versioning (see {@link S3History});
 * a bucket without versioning Enabled answers them `unsupported`, saying how to enable it.
 * How each operation is done is in {@link S3Driver}; the contract around it is core's facade.
 */
export class S3Backend extends DriverBackend<S3Driver> implements AsyncDisposable {
  /** The client in use (created from the config, or the one passed in). */
  readonly client: S3Client;
  readonly bucket: string;
  /** Normalised key prefix: `""` or ending with `/`. */
  readonly prefix: string;

  private readonly ownsClient: boolean;
  private closed = false;

  /**
   * @param config an {@link S3Config} (the backend builds and owns its client), or
   *   `{ client, bucket, prefix }` with an existing `S3Client`, which `close()` leaves alone.
   */
  constructor(config: S3Config | S3ClientOptions) {
    if (typeof config !== "object" || config === null) throw new TypeError("S3Backend needs a config object");
    const bucket = checkBucket(config.bucket);
    const keys = new KeyMapper(config.prefix);
    const tuning = resolveTuning(config);
    const injected = "client" in config && config.client ? config.client : undefined;
    const client = injected ?? createS3Client(config as S3Config);
    super(new S3Driver(client, bucket, keys, tuning), {
      concurrency: tuning.transferConcurrency,
      maxGrepFileBytes: tuning.maxGrepFileBytes,
    });
    this.client = client;
    this.bucket = bucket;
    this.prefix = keys.prefix;
    this.ownsClient = injected === undefined;
  }

  /** Destroys the client if this backend created it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
