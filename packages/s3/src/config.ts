import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { DeepfsError, type HistoryOption, type HistoryRetention } from "@deepfs/core";
import { NodeHttpHandler } from "@smithy/node-http-handler";

/** Tuning shared by both ways of constructing an {@link S3Backend}. */
export interface S3Tuning {
  /** Key prefix of every file (a "folder" of the bucket); normalised to end with `/`. Default: none. */
  prefix?: string;
  /**
   * Most objects grep fetches at once. Default 16. A cap: grep keeps fewer GETs in flight while the
   * server queues them (the latency it observes rises with the requests in flight), and grows to
   * the cap while it does not; `1` makes grep sequential.
   */
  grepConcurrency?: number;
  /**
   * Largest file that `read`, `readRaw`, `edit` and `readVersion` look at, in MiB, as in
   * LocalBackend: a larger object (or version) answers `too_large` from the size in its GET
   * response, before its body is read, and an edit never makes a file larger. `downloadFiles` and
   * `restore`, which move bytes rather than model context, have no limit. Also grep's limit unless
   * `maxGrepFileSizeMb` is set. Default 10.
   */
  maxFileSizeMb?: number;
  /** grep skips objects larger than this many MiB. Default: `maxFileSizeMb` (10). */
  maxGrepFileSizeMb?: number;
  /**
   * Most matching lines one grep answers when `maxCount` allows more: past it grep answers
   * `too_large`, and stops listing and fetching as soon as its matches pass it. A whole number.
   * Default 1,000,000.
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines one grep answers: past it grep answers
   * `too_large`, stopping as for `maxGrepMatches`. A whole number. Default 256 Mi (268,435,456).
   */
  maxGrepTextLength?: number;
  /** Uploads and downloads in flight at once for `uploadFiles` / `downloadFiles`. Default 8. */
  transferConcurrency?: number;
  /** Files larger than this many MiB are uploaded in parts (multipart upload). Default 8. */
  multipartThresholdMb?: number;
  /** MaxKeys of each ListObjectsV2 page. Default: the server's (1000). */
  listPageSize?: number;
  /**
   * Version history from S3 bucket versioning (`true`, or `{ maxVersions?, maxAgeMs? }` to prune
   * noncurrent versions after each write). Off by default. The bucket must have versioning
   * Enabled: S3 keeps each version in the same step as the PutObject or DeleteObject that makes
   * it, so a write costs no extra request (pruning does). Without versioning the history methods
   * answer `unsupported` with how to enable it.
   */
  history?: HistoryOption;
}

/** How to reach a bucket when the backend builds its own client (same options as the reference S3Config). */
export interface S3Config extends S3Tuning {
  /** Bucket holding the files. Required. */
  bucket: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Endpoint of an S3-compatible store (MinIO, Ceph, moto...), e.g. `http://localhost:9000`. */
  endpointUrl?: string;
  /** Credentials; the SDK's default provider chain (env, profile, IAM role) when omitted. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Default true; false talks plain HTTP. */
  useSsl?: boolean;
  /** Path-style URLs (`endpoint/bucket/key`). Default: true when `endpointUrl` is given. */
  forcePathStyle?: boolean;
  /** Sockets kept per host. Default 50. */
  maxPoolConnections?: number;
  /** Seconds to establish a connection. Default 5. */
  connectTimeout?: number;
  /** Seconds a socket may stay silent while a response is awaited or read. Default 30. */
  readTimeout?: number;
  /** Retries of throttled, failed (5xx) or timed-out requests. Default 3. */
  maxRetries?: number;
}

/** An existing client: the backend uses it and never destroys it. */
export interface S3ClientOptions extends S3Tuning {
  client: S3Client;
  bucket: string;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new DeepfsError(
      "invalid_argument",
      `S3 option ${name} must be a ${allowZero ? "non-negative" : "positive"} number`,
    );
  }
  return value;
}

/** `value` when it is a whole number >= 1 (undefined: not given), else a thrown configuration error. */
function wholeAtLeastOne(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new DeepfsError("invalid_argument", `S3 option ${name} must be a whole number >= 1`);
  }
  return value;
}

/** The bucket name, or a thrown configuration error. */
export function checkBucket(bucket: unknown): string {
  if (typeof bucket !== "string" || bucket.trim() === "") {
    throw new DeepfsError("invalid_argument", "S3 backend needs a bucket name (config.bucket)");
  }
  return bucket;
}

/** Resolved tuning values. */
export interface ResolvedTuning {
  grepConcurrency: number;
  /** Largest object read for `read`, `readRaw` and `edit` (whole bytes). */
  maxFileBytes: number;
  /** Largest object grep searches (whole bytes). */
  maxGrepFileBytes: number;
  /** grep's answer bounds when given (`maxGrepMatches`, `maxGrepTextLength`); else the facade's defaults. */
  maxGrepMatches: number | undefined;
  maxGrepTextLength: number | undefined;
  transferConcurrency: number;
  multipartThresholdBytes: number;
  listPageSize: number | undefined;
  /** Retention of the version history, or null when history is off. */
  history: HistoryRetention | null;
}

const MIB = 1024 * 1024;

export function resolveTuning(tuning: S3Tuning): ResolvedTuning {
  const maxFileSizeMb = positive("maxFileSizeMb", tuning.maxFileSizeMb, 10);
  return {
    grepConcurrency: Math.floor(positive("grepConcurrency", tuning.grepConcurrency, 16)),
    maxFileBytes: Math.floor(maxFileSizeMb * MIB),
    maxGrepFileBytes: Math.floor(positive("maxGrepFileSizeMb", tuning.maxGrepFileSizeMb, maxFileSizeMb, true) * MIB),
    maxGrepMatches: wholeAtLeastOne("maxGrepMatches", tuning.maxGrepMatches),
    maxGrepTextLength: wholeAtLeastOne("maxGrepTextLength", tuning.maxGrepTextLength),
    transferConcurrency: Math.floor(positive("transferConcurrency", tuning.transferConcurrency, 8)),
    // Parts must be at least 5 MiB, so smaller thresholds would only produce single-part uploads.
    multipartThresholdBytes: Math.max(5, positive("multipartThresholdMb", tuning.multipartThresholdMb, 8)) * MIB,
    listPageSize:
      tuning.listPageSize === undefined ? undefined : Math.floor(positive("listPageSize", tuning.listPageSize, 1000)),
    history: resolveHistory(tuning.history),
  };
}

/** The `history` option as retention limits (null: off). */
function resolveHistory(option: HistoryOption | undefined): HistoryRetention | null {
  if (option === undefined || option === false) return null;
  if (option === true) return {};
  if (typeof option !== "object" || option === null) {
    throw new DeepfsError("invalid_argument", "S3 option history must be a boolean or { maxVersions?, maxAgeMs? }");
  }
  const out: HistoryRetention = {};
  if (option.maxVersions !== undefined)
    out.maxVersions = Math.max(1, Math.floor(positive("history.maxVersions", option.maxVersions, 1)));
  if (option.maxAgeMs !== undefined) out.maxAgeMs = positive("history.maxAgeMs", option.maxAgeMs, 0, true);
  return out;
}

/** Builds the S3 client described by a config. */
export function createS3Client(config: S3Config): S3Client {
  const useSsl = config.useSsl ?? true;
  let endpoint = config.endpointUrl;
  if (endpoint !== undefined) {
    if (typeof endpoint !== "string" || endpoint === "")
      throw new DeepfsError("invalid_argument", "S3 endpointUrl must be a non-empty URL");
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) endpoint = `${useSsl ? "https" : "http"}://${endpoint}`;
  }
  const { accessKeyId, secretAccessKey, sessionToken } = config;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new DeepfsError("invalid_argument", "S3 accessKeyId and secretAccessKey must be given together");
  }
  const maxSockets = Math.floor(positive("maxPoolConnections", config.maxPoolConnections, 50));
  const agent = { keepAlive: true, maxSockets };
  const clientConfig: S3ClientConfig = {
    region: config.region ?? "us-east-1",
    tls: useSsl,
    forcePathStyle: config.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: Math.floor(positive("maxRetries", config.maxRetries, 3, true)) + 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: positive("connectTimeout", config.connectTimeout, 5) * 1000,
      socketTimeout: positive("readTimeout", config.readTimeout, 30) * 1000,
      httpAgent: agent,
      httpsAgent: agent,
    }),
  };
  if (endpoint !== undefined) {
    clientConfig.endpoint = endpoint;
    // S3-compatible stores often reject the SDK's default (flexible) checksums.
    clientConfig.requestChecksumCalculation = "WHEN_REQUIRED";
    clientConfig.responseChecksumValidation = "WHEN_REQUIRED";
  }
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    clientConfig.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
  return new S3Client(clientConfig);
}
