/**
 * File transfer between Node and a sandbox's container, as the sandbox user: small batches
 * through one of the container's shell channels (`deepfs_upload` / `deepfs_download`, no exec),
 * larger ones through an exec of their own fed (or streaming) a tar. Every file, new or replaced,
 * is written under a temporary name next to it and renamed into place.
 *
 * A download with a limit per file never sends a larger file (its size is checked in the
 * container), and never takes in more than its files could hold: a file that grows meanwhile, or
 * a process writing into the transfer's pipe, makes it fail rather than fill memory.
 */
import { randomBytes } from "node:crypto";
import { PassThrough, Writable } from "node:stream";
import { checkPath, type ErrorCode, type FileUploadResponse, type LimitedDownload, shellQuote } from "@deepfs/core";
import { coarseCode } from "@deepfs/core/kit";
import { buildArchive, readArchive } from "./archive.js";
import type { CallFault, ReplacedBirth, Running, SandboxContainer } from "./container.js";
import { assertRunning, type Captured, type DockerExec, retryDocker } from "./docker-exec.js";
import { SandboxUnavailableError } from "./errors.js";
import { runExec } from "./exec.js";
import { CappedOutput } from "./output.js";
import { DOWNLOAD_SCRIPT, UPLOAD_SCRIPT } from "./scripts.js";

/** One status word per path of a download batch, and the bytes of those whose status is `ok`. */
interface DownloadedBatch {
  statuses: string[];
  files: Map<string, Uint8Array>;
}

// Keeps one exec's argument list far below the kernel's limits (128 KiB per argument string list).
const MAX_BATCH_FILES = 500;
const MAX_BATCH_ARG_BYTES = 64 * 1024;
// Transfers larger than this stream through their own exec instead of being staged by a channel.
const CHANNEL_MAX_BYTES = 8 * 1024 * 1024;
// Status and size lines a transfer prints per file (`too_large 18446744073709551615`, `ok OLD NEW`
// birth times), with room to spare; plus a little for the whole answer.
const STATUS_BYTES_PER_FILE = 64;
const STATUS_BYTES = 4096;
// A tar entry's header, long-name records and padding, at most (paths are shorter than 4 KiB).
const TAR_BYTES_PER_FILE = 16 * 1024;
// Replaced files whose creation time is remembered, per container (the oldest are forgotten first).
const MAX_REMEMBERED_BIRTHS = 10_000;

/** Uploads and downloads of one sandbox. */
export class DockerTransfer {
  constructor(
    private readonly box: SandboxContainer,
    private readonly exec: DockerExec,
  ) {}

  async upload(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const results: FileUploadResponse[] = new Array(files.length);
    const todo: Array<{ index: number; path: string; bytes: Uint8Array }> = [];
    files.forEach(([rawPath, bytes], index) => {
      const checked = checkPath(rawPath);
      if (!checked.ok) {
        results[index] = { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
      } else if (!(bytes instanceof Uint8Array)) {
        results[index] = {
          path: checked.path,
          error: "invalid_path",
          code: "invalid_argument",
          message: `Content for '${checked.path}' must be bytes`,
        };
      } else {
        todo.push({ index, path: checked.path, bytes });
      }
    });
    for (const batch of batches(todo)) {
      const statuses = await this.box.session(
        (running) => this.uploadBatch(running, batch),
        (fault) => fault,
        "Upload",
      );
      batch.forEach((item, i) => {
        results[item.index] = Array.isArray(statuses)
          ? uploadResult(item.path, statuses[i]?.split(" ")[0])
          : uploadFailure(item.path, statuses);
      });
    }
    return results;
  }

  /**
   * Downloads `paths`; with `maxBytes`, a file larger than that is not sent, and its entry answers
   * `too_large` with its size.
   */
  async download(paths: string[], maxBytes = Number.POSITIVE_INFINITY): Promise<LimitedDownload[]> {
    const results: LimitedDownload[] = new Array(paths.length);
    const todo: Array<{ index: number; path: string }> = [];
    paths.forEach((rawPath, index) => {
      const checked = checkPath(rawPath);
      if (checked.ok) todo.push({ index, path: checked.path });
      else
        results[index] = {
          path: rawPath,
          content: null,
          error: "invalid_path",
          code: "invalid_path",
          message: checked.error,
        };
    });
    for (const batch of batches(todo)) {
      const unique = [...new Set(batch.map((item) => item.path))];
      const found = await this.box.session(
        (running) => this.downloadBatch(running, unique, maxBytes),
        (fault) => fault,
        "Download",
      );
      for (const item of batch) {
        const entry = found instanceof Map ? (found.get(item.path) ?? "file_not_found") : found;
        results[item.index] =
          entry instanceof Uint8Array
            ? ownCopy(item.path, entry)
            : { path: item.path, content: null, ...downloadFailure(item.path, entry, maxBytes) };
      }
    }
    return results;
  }

  private async uploadBatch(running: Running, batch: Array<{ path: string; bytes: Uint8Array }>): Promise<string[]> {
    const nonce = randomBytes(6).toString("hex");
    const result =
      (await this.uploadThroughChannel(running, batch, nonce)) ?? (await this.uploadThroughExec(running, batch, nonce));
    const stdout = result.stdout.toString("utf8");
    if (result.exitCode !== 0 && stdout === "") {
      throw new SandboxUnavailableError(`the upload could not be unpacked in the sandbox (exit ${result.exitCode})`);
    }
    const statuses = stdout.split("\n").slice(0, batch.length);
    for (const [i, item] of batch.entries()) rememberBirth(running.births, item.path, statuses[i]);
    return statuses;
  }

  /** Uploads with a channel's `deepfs_upload`: the files' bytes one after another, no tar. */
  private async uploadThroughChannel(
    running: Running,
    batch: Array<{ path: string; bytes: Uint8Array }>,
    nonce: string,
  ): Promise<Captured | undefined> {
    if (batch.reduce((total, item) => total + item.bytes.byteLength, 0) > CHANNEL_MAX_BYTES) return undefined;
    const input = Buffer.concat(batch.map((item) => item.bytes));
    const args = batch.flatMap((item) => [String(item.bytes.byteLength), shellQuote(item.path)]);
    const maxReply = batch.length * STATUS_BYTES_PER_FILE + STATUS_BYTES;
    const reply = await running.channels.run(`deepfs_upload ${nonce} ${args.join(" ")}`, input, maxReply);
    return reply && { exitCode: reply.status, stdout: reply.stdout, stderr: reply.stderr };
  }

  /** Uploads through an exec of its own, fed a tar of the files. */
  private async uploadThroughExec(
    running: Running,
    batch: Array<{ path: string; bytes: Uint8Array }>,
    nonce: string,
  ): Promise<Captured> {
    const archive = await buildArchive(batch.map((item, i) => ({ name: String(i + 1), bytes: item.bytes })));
    const cmd = ["/bin/sh", "-c", UPLOAD_SCRIPT, "sh", `/tmp/.deepfs-up-${nonce}`, nonce, ...batch.map((i) => i.path)];
    return this.exec.capture(running.container, cmd, archive);
  }

  private async downloadBatch(
    running: Running,
    paths: string[],
    maxBytes: number,
  ): Promise<Map<string, Uint8Array | string>> {
    const { statuses, files } =
      (await this.downloadThroughChannel(running, paths, maxBytes)) ??
      (await this.downloadThroughExec(running, paths, maxBytes));
    // A readable file missing from the answer vanished meanwhile, or the container went away (cutting the tar).
    if (paths.some((path, i) => statuses[i] === "ok" && !files.has(path))) await assertRunning(running.container);
    const found = new Map<string, Uint8Array | string>();
    paths.forEach((path, i) => {
      const status = statuses[i] ?? "failed";
      found.set(path, status === "ok" ? (files.get(path) ?? "file_not_found") : status);
    });
    return found;
  }

  /**
   * Downloads with a channel's `deepfs_download`; undefined when the files are too large for a
   * channel, or changed under it (the sizes and bytes disagree), or no channel could run it.
   */
  private async downloadThroughChannel(
    running: Running,
    paths: string[],
    maxBytes: number,
  ): Promise<DownloadedBatch | undefined> {
    const fileMax = Number.isFinite(maxBytes) ? String(Math.floor(maxBytes)) : "-";
    const command = `deepfs_download ${CHANNEL_MAX_BYTES} ${fileMax} ${paths.map(shellQuote).join(" ")}`;
    const maxReply = CHANNEL_MAX_BYTES + paths.length * STATUS_BYTES_PER_FILE + STATUS_BYTES;
    const reply = await running.channels.run(command, Buffer.alloc(0), maxReply);
    if (reply?.status !== 0) return undefined;
    const lines = reply.stderr.toString("utf8").split("\n");
    const statuses = lines.slice(0, paths.length);
    const sizes = lines.slice(paths.length, -1).map(Number);
    const readable = paths.filter((_, i) => statuses[i] === "ok");
    if (sizes.length !== readable.length || sizes.reduce((sum, size) => sum + size, 0) !== reply.stdout.length) {
      return undefined;
    }
    const files = new Map<string, Uint8Array>();
    let offset = reply.stdout.byteOffset;
    readable.forEach((path, i) => {
      const size = sizes[i] as number;
      // A plain Uint8Array view, not a Buffer: callers get the contract's type.
      files.set(path, new Uint8Array(reply.stdout.buffer, offset, size));
      offset += size;
    });
    return { statuses, files };
  }

  /**
   * Downloads through an exec of its own, its tar parsed as it streams (for files of any size).
   * With a limit per file, the stream may hold no more than that many bytes per file (and the tar
   * framing): past it, the exec is killed and the download fails.
   */
  private async downloadThroughExec(running: Running, paths: string[], maxBytes: number): Promise<DownloadedBatch> {
    const tar = new PassThrough();
    const statusOutput = new CappedOutput(paths.length * STATUS_BYTES_PER_FILE + STATUS_BYTES);
    const parsed = readArchive(tar);
    // Without this the parse failure would surface only after the exec, unobserved until then.
    parsed.catch(() => {});
    const token = randomBytes(8).toString("hex");
    const fileMax = Number.isFinite(maxBytes) ? String(Math.floor(maxBytes)) : "-";
    const spec = this.exec.spec(["/bin/sh", "-c", DOWNLOAD_SCRIPT, "sh", fileMax, ...paths], {
      DEEPFS_EXEC_ID: token,
    });
    const overflow = new AbortController();
    const limit = paths.length * (maxBytes + TAR_BYTES_PER_FILE) + STATUS_BYTES;
    const sink = boundedSink(tar, limit, () => overflow.abort());
    const deadline = {
      ms: Number.POSITIVE_INFINITY,
      signal: overflow.signal,
      kill: () => this.exec.kill(running.container, token),
    };
    await retryDocker(() => runExec(running.container, spec, sink, statusOutput.sink(), deadline));
    if (overflow.signal.aborted) {
      tar.destroy();
      throw new SandboxUnavailableError("the sandbox sent more than the files it was asked for could hold");
    }
    const statuses = statusOutput.text().split("\n");
    tar.end();
    const anyOk = statuses.slice(0, paths.length).includes("ok");
    return { statuses, files: anyOk ? await parsed : new Map() };
  }
}

/**
 * Records what an upload's status line (`ok OLD NEW` for a replaced file whose birth times `stat`
 * knows) says of the path's creation time.
 */
function rememberBirth(births: Map<string, ReplacedBirth>, path: string, status: string | undefined): void {
  const [word, old, now] = status?.split(" ") ?? [];
  if (word !== "ok") return;
  const known = births.get(path);
  // Re-inserted last: the map forgets the files replaced longest ago first.
  births.delete(path);
  const oldBirth = Number(old);
  const newBirth = Number(now);
  if (!(oldBirth > 0 && newBirth > 0)) return;
  births.set(path, { replaced: newBirth, created: known?.replaced === oldBirth ? known.created : oldBirth });
  if (births.size > MAX_REMEMBERED_BIRTHS) births.delete(births.keys().next().value as string);
}

/** Splits work so that one exec's argument list stays small. */
function batches<T extends { path: string }>(items: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.path) + 1;
    if (current.length > 0 && (current.length >= MAX_BATCH_FILES || bytes + size > MAX_BATCH_ARG_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** What the upload script's status words mean: the precise code and the sentence. */
const UPLOAD_FAILURES: Record<string, { code: ErrorCode; message: (path: string) => string }> = {
  is_directory: { code: "is_directory", message: (p) => `'${p}' is a directory, not a file` },
  not_a_directory: {
    code: "not_a_directory",
    message: (p) => `A parent of '${p}' is a file, so '${p}' cannot be created`,
  },
  permission_denied: { code: "permission_denied", message: (p) => `The sandbox user may not write '${p}'` },
};

function uploadResult(path: string, status: string | undefined): FileUploadResponse {
  if (status === "ok") return { path, error: null };
  const known = status === undefined ? undefined : UPLOAD_FAILURES[status];
  if (known) return { path, error: coarseCode(known.code), code: known.code, message: known.message(path) };
  return uploadFailure(path, { code: "backend_unavailable", error: `Writing '${path}' failed in the sandbox` });
}

/** An upload the sandbox could not serve, with the kit's one coarse-code rule. */
function uploadFailure(path: string, fault: CallFault): FileUploadResponse {
  const error = coarseCode(fault.code);
  return { path, error, code: fault.code, message: fault.error };
}

/**
 * A download's bytes in a buffer of their own (a channel's answer holds several files); a copy
 * the process cannot allocate is a failure, not a throw.
 */
function ownCopy(path: string, bytes: Uint8Array): LimitedDownload {
  try {
    return { path, content: bytes.slice(), error: null };
  } catch {
    const fault = {
      code: "backend_unavailable" as const,
      error: `Reading '${path}' failed: it does not fit in memory`,
    };
    return { path, content: null, ...downloadFailure(path, fault, Number.POSITIVE_INFINITY) };
  }
}

/**
 * A writable that passes what it is given to `target` until `limit` bytes have come, then drops
 * everything and calls `onOverflow` once. It takes every chunk at once (the engine's stream does
 * not wait anyway), so that what is held is what `target` holds, at most `limit` bytes.
 */
function boundedSink(target: Writable, limit: number, onOverflow: () => void): Writable {
  let received = 0;
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      const before = received;
      received += chunk.length;
      if (received <= limit) target.write(chunk);
      else if (before <= limit) onOverflow();
      callback();
    },
  });
}

function downloadFailure(
  path: string,
  status: string | CallFault,
  maxBytes: number,
): Omit<LimitedDownload, "path" | "content"> {
  if (typeof status === "string" && status.startsWith("too_large ")) {
    const size = Number(status.slice("too_large ".length));
    const message = `'${path}' is too large (${size} bytes, over the limit of ${maxBytes} bytes)`;
    return { error: coarseCode("too_large"), code: "too_large", message, size };
  }
  const [code, message]: [ErrorCode, string] =
    typeof status !== "string"
      ? [status.code, status.error]
      : status === "is_directory"
        ? ["is_directory", `'${path}' is a directory, not a file`]
        : status === "permission_denied"
          ? ["permission_denied", `The sandbox user may not read '${path}'`]
          : status === "file_not_found"
            ? ["file_not_found", `File '${path}' not found`]
            : ["backend_unavailable", `Reading '${path}' failed in the sandbox`];
  return { error: coarseCode(code), code, message };
}
