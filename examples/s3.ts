/**
 * `S3Backend`: an agent's files as objects of an S3 bucket (AWS S3, MinIO, Ceph, moto...), one
 * object per file under a key prefix, binary-exact, with conditional writes for safe edits.
 *
 * Run (from `examples/`): set DEEPFS_S3_ENDPOINT, DEEPFS_S3_BUCKET, DEEPFS_S3_ACCESS_KEY_ID,
 * DEEPFS_S3_SECRET_ACCESS_KEY and DEEPFS_S3_REGION (docker-compose's MinIO values are in the
 * README), then `pnpm exec tsx s3.ts`.
 */
import { randomUUID } from "node:crypto";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { S3Backend } from "@deepfs/s3";
import { requireEnv, runIfMain } from "./lib/run-main.js";

export async function main() {
  const backend = new S3Backend({
    bucket: requireEnv("DEEPFS_S3_BUCKET"),
    endpointUrl: requireEnv("DEEPFS_S3_ENDPOINT"),
    region: process.env.DEEPFS_S3_REGION ?? "us-east-1",
    accessKeyId: requireEnv("DEEPFS_S3_ACCESS_KEY_ID"),
    secretAccessKey: requireEnv("DEEPFS_S3_SECRET_ACCESS_KEY"),
    // Everything this backend sees lives under this key prefix: one tenant, or one run here.
    prefix: `examples/${randomUUID().slice(0, 8)}/`,
  });
  try {
    await backend.write("/reports/q3.md", "# Q3\nrevenue up\n");
    // A binary asset: uploadFiles stores the exact bytes (no base64 text, no UTF-8 mangling).
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    const uploaded = await backend.uploadFiles([["/assets/logo.png", png]]);
    const [downloaded] = await backend.downloadFiles(["/assets/logo.png"]);
    const created = await backend.write("/reports/q3.md", "again?", { ifNoneMatch: "*" });

    const ls = await backend.ls("/");
    const grep = await backend.grep("revenue", "/");
    const read = await backend.read("/assets/logo.png");
    const objects = await backend.client.send(
      new ListObjectsV2Command({ Bucket: backend.bucket, Prefix: backend.prefix }),
    );

    return {
      bucket: backend.bucket,
      prefix: backend.prefix,
      upload: uploaded.map((u) => ({ path: u.path, error: u.error })),
      bytesExact: downloaded?.content !== null && Buffer.from(downloaded?.content ?? []).equals(Buffer.from(png)),
      createIfAbsent: created.code,
      ls: ls.files?.map((f) => f.path),
      grep: grep.matches,
      readBinary: { isBytes: read.content instanceof Uint8Array, mimeType: read.mimeType },
      // One object per file: the key is the prefix plus the path without its leading '/'.
      keys: (objects.Contents ?? []).map((o) => ({ key: o.Key, size: o.Size })),
    };
  } finally {
    await backend.delete("/");
    await backend.close();
  }
}

runIfMain(import.meta.url, main);
