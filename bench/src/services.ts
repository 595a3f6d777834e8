/** Backend settings from the harness's environment, or why a service is missing. */
import type { S3Config } from "@deepfs/s3";

export function s3Config(env: Record<string, string>, prefix: string): S3Config | { unavailable: string } {
  const bucket = env.DEEPFS_S3_BUCKET;
  const endpointUrl = env.DEEPFS_S3_ENDPOINT;
  if (!bucket || !endpointUrl) return { unavailable: env.DEEPFS_S3_UNAVAILABLE ?? "DEEPFS_S3_ENDPOINT not set" };
  return {
    bucket,
    endpointUrl,
    prefix,
    region: env.DEEPFS_S3_REGION ?? "us-east-1",
    ...(env.DEEPFS_S3_ACCESS_KEY_ID ? { accessKeyId: env.DEEPFS_S3_ACCESS_KEY_ID } : {}),
    ...(env.DEEPFS_S3_SECRET_ACCESS_KEY ? { secretAccessKey: env.DEEPFS_S3_SECRET_ACCESS_KEY } : {}),
  };
}

export function pgUrl(env: Record<string, string>): string | { unavailable: string } {
  return env.DEEPFS_PG_URL ?? { unavailable: env.DEEPFS_POSTGRES_UNAVAILABLE ?? "DEEPFS_PG_URL not set" };
}
