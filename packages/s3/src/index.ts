export type { S3ClientOptions, S3Config, S3Tuning } from "./config.js";
export { createS3Client } from "./config.js";
export { MAX_KEY_BYTES } from "./keys.js";
export { S3Backend } from "./s3-backend.js";
