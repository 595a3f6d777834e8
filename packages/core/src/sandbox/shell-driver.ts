/**
 * {@link ShellDriver}: a sandbox (E2B, Daytona, a VM, a container) as a {@link Driver}. Listings,
 * searches, deletes and `stat`s are one POSIX sh script each (shell-scripts.ts), run through the
 * sandbox's script runner; file contents travel only through the sandbox's own transfers, byte for
 * byte, and never appear in a command line. Etags are SHA-256 digests computed in Node.
 */
import { createHash } from "node:crypto";
import { contentFromBytes } from "../file-data.js";
import { type GrepQuery, grepTexts } from "../grep.js";
import type { BatchFile, Driver, DriverEntry, DriverFile, DriverStat, Fault, WriteCall } from "../kit/driver.js";
import { FaultError, fault, isFault } from "../kit/driver.js";
import { getMimeType, isTextMimeType } from "../mime.js";
import { checkPath, comparePaths, isWithin, parentDir } from "../paths.js";
import type {
  ExecuteOptions,
  ExecuteResponse,
  FileDownloadResponse,
  FileUploadResponse,
  GrepMatch,
} from "../protocol.js";
import { decodeUtf8Lossy, encodeUtf8 } from "../text.js";
import {
  deleteScript,
  fileCommand,
  fileTimesScript,
  grepCandidatesScript,
  inlineCommand,
  listFilesScript,
  lsScript,
  parseStatRecords,
  ScriptStatus,
  STATUS_MARKER,
  type StatRecord,
  shellQuote,
  writeTargetScript,
} from "./shell-scripts.js";

/** What the driver needs of the sandbox: its command runners, its transfers, its hidden paths. */
export interface ShellHost {
  /** Runs one of the driver's own scripts (`sh -c` semantics, output capped with `truncated`). */
  run(command: string): Promise<ExecuteResponse>;
  /** Runs the user's command. */
  execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse>;
  /** Writes files byte for byte (creating parents), answering per file in order; takes no lock. */
  upload(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]>;
  /** Reads files byte for byte, answering per file in order. */
  download(paths: string[]): Promise<FileDownloadResponse[]>;
  /** A path the sandbox keeps for itself: never listed nor searched. */
  isHidden(path: string): boolean;
}

/** Files grep downloads per transfer while collecting matches in path order. */
const GREP_DOWNLOAD_BATCH = 32;

/** Opaque version of some bytes: their SHA-256 digest. */
export function etagOf(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** A sandbox's file system as a driver. */
export class ShellDriver implements Driver {
  /**
   * Preconditions hold within one process only (the facade checks them under its per-path lock),
   * so the driver does not claim store-side conditional writes.
   */
  readonly capabilities = { conditionalWrites: false, realDirectories: true, readOnly: false, nativeGrep: true };

  constructor(private readonly host: ShellHost) {}

  /** A file (with its size and etag, which takes a download), a directory, or nothing. */
  async stat(path: string): Promise<DriverStat | Fault> {
    const target = await this.inspect(path);
    if (isFault(target)) return target.fault === "is_directory" ? { kind: "directory" } : target;
    if (!target.exists) return { kind: "none" };
    const file = await this.load(path);
    if (isFault(file)) return file.fault === "file_not_found" ? { kind: "none" } : file;
    return { kind: "file", size: file.bytes.byteLength, etag: file.etag };
  }

  /** One download. Times are not fetched here: `readRaw` asks for them with {@link times}. */
  async read(path: string): Promise<DriverFile | Fault> {
    const file = await this.load(path);
    if (isFault(file)) return file;
    return { content: contentFromBytes(path, file.bytes), etag: file.etag };
  }

  /** Birth time (0 when unknown) and modification time of a file, in seconds; null when unknown. */
  async times(path: string): Promise<{ birth: number; mtime: number } | null> {
    const run = await this.runScript(fileTimesScript(path));
    if (isFault(run)) return null;
    const [birth, mtime] = run.output.trim().split(" ").map(Number);
    return { birth: birth !== undefined && birth > 0 ? birth : 0, mtime: mtime !== undefined && mtime > 0 ? mtime : 0 };
  }

  /**
   * One upload. `ifMatch` / `ifNoneMatch` are not the driver's: without store-side conditional
   * writes, the facade checks them (with {@link stat}) under its per-path lock first.
   */
  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    if (path === "/") return fault("is_directory");
    if (call.signal?.aborted) return fault("aborted");
    const bytes = typeof content === "string" ? encodeUtf8(content) : content;
    const [answer] = await this.host.upload([[path, bytes]]);
    if (answer && !answer.error) return { etag: etagOf(bytes) };
    return this.writeFault(path, answer);
  }

  /** One upload of every file (the sandbox's transfer batches them). */
  async writeBatch(files: BatchFile[]): Promise<Array<{ etag: string } | Fault>> {
    const answers = await this.host.upload(files.map((f) => [f.path, f.bytes]));
    return Promise.all(
      files.map(async (f, i) => {
        const answer = answers[i];
        return answer && !answer.error ? { etag: etagOf(f.bytes) } : this.writeFault(f.path, answer);
      }),
    );
  }

  async list(dir: string): Promise<DriverEntry[] | Fault> {
    const run = await this.runScript(lsScript(dir));
    if (isFault(run)) return run;
    if (run.status === ScriptStatus.permissionDenied) return fault("permission_denied");
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    const out: DriverEntry[] = [];
    for (const record of parseStatRecords(run.output)) {
      if (!isCanonical(record.path) || record.path === dir || parentDir(record.path) !== dir) continue;
      if (this.host.isHidden(record.path)) continue;
      out.push(record.isDirectory ? { path: record.path, kind: "directory" } : fileEntry(record));
    }
    return out;
  }

  /** Every regular file below `dir`, from one `find` (skipping `/proc`, `/sys`, `/dev`). */
  async *walk(dir: string): AsyncIterable<DriverEntry> {
    const run = await this.runScript(listFilesScript(dir));
    if (isFault(run)) throw new FaultError(run);
    if (run.status !== ScriptStatus.ok) throw new FaultError(failedStatus(run.status));
    for (const record of parseStatRecords(run.output)) {
      if (isCanonical(record.path) && isWithin(record.path, dir) && !this.host.isHidden(record.path))
        yield fileEntry(record);
    }
  }

  async remove(path: string): Promise<{ path: string } | Fault> {
    if (path === "/") return fault("invalid_argument", { detail: "refusing to delete the whole sandbox filesystem" });
    const run = await this.runScript(deleteScript(path));
    if (isFault(run)) return run;
    if (run.status === ScriptStatus.notFound) return fault("file_not_found");
    if (run.status === ScriptStatus.permissionDenied) return fault("permission_denied");
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    return { path };
  }

  /**
   * Finds the files that contain the pattern with `grep -l` inside the sandbox, then downloads only
   * those (in path order, until `maxCount` is reached) and applies the core matcher, so that binary
   * detection (NUL bytes, invalid UTF-8) and line splitting are exactly the contract's.
   */
  async grep(query: GrepQuery): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    // No line of a searchable text holds "\n" or NUL, and neither can be passed as a shell argument.
    if (query.pattern.includes("\n") || query.pattern.includes("\u0000")) return { matches: [] };
    const run = await this.runScript(grepCandidatesScript(query.dir, query.pattern));
    if (isFault(run)) return run;
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    const candidates = [
      ...new Set(
        run.output
          .split("\n")
          .filter(
            (p) => isCanonical(p) && query.accepts(p) && isTextMimeType(getMimeType(p)) && !this.host.isHidden(p),
          ),
      ),
    ].sort(comparePaths);
    const matches: GrepMatch[] = [];
    for (let i = 0; i < candidates.length; i += GREP_DOWNLOAD_BATCH) {
      const downloads = await this.host.download(candidates.slice(i, i + GREP_DOWNLOAD_BATCH));
      const texts: Array<{ path: string; text: string }> = [];
      for (const file of downloads) {
        // A file removed since the search is simply no longer there.
        if (file.error || !file.content) continue;
        const content = contentFromBytes(file.path, file.content);
        if (typeof content === "string") texts.push({ path: file.path, text: content });
      }
      const batch = grepTexts(texts, { ...query, maxCount: query.maxCount - matches.length });
      // One by one: spreading 200,000 matches into push() overflows the stack.
      for (const match of batch.matches ?? []) matches.push(match);
      if (batch.truncated) return { matches, truncated: true };
    }
    return { matches };
  }

  execute(command: string, options: ExecuteOptions): Promise<ExecuteResponse> {
    return this.host.execute(command, options);
  }

  /** Downloads one file with its etag. */
  private async load(path: string): Promise<{ bytes: Uint8Array; etag: string } | Fault> {
    const [file] = await this.host.download([path]);
    if (!file || file.error || !file.content) return transferFault(file);
    return { bytes: file.content, etag: etagOf(file.content) };
  }

  /** After a failed upload: the precise reason when a directory or a file is in the way, else the answer's. */
  private async writeFault(path: string, answer: FileUploadResponse | undefined): Promise<Fault> {
    const target = await this.inspect(path);
    if (isFault(target) && target.fault !== "backend_unavailable" && target.fault !== "timeout") return target;
    return transferFault(answer);
  }

  /** Whether `path` exists as a file, or why it cannot be written as one. */
  private async inspect(path: string): Promise<{ exists: boolean } | Fault> {
    const run = await this.runScript(writeTargetScript(path, parentDir(path)));
    if (isFault(run)) return run;
    switch (run.status) {
      case ScriptStatus.ok:
        return { exists: run.output === "E" };
      case ScriptStatus.isDirectory:
        return fault("is_directory");
      case ScriptStatus.notADirectory:
        return fault("not_a_directory", { path: run.output, reason: "file_in_way" });
      default:
        return failedStatus(run.status);
    }
  }

  /**
   * Runs a script and returns its exit status and stdout. Output is returned inline; when the
   * sandbox cuts it, the script runs again writing to a temporary file that is downloaded whole.
   */
  private async runScript(script: string): Promise<{ status: number; output: string } | Fault> {
    const inline = await this.host.run(inlineCommand(script));
    const end = inline.output.lastIndexOf(STATUS_MARKER);
    if (!inline.truncated && end !== -1) {
      return { status: Number(inline.output.slice(end + STATUS_MARKER.length)), output: inline.output.slice(0, end) };
    }
    if (!inline.truncated) return commandFault(inline);
    const spooled = await this.host.run(fileCommand(script));
    const marker = spooled.output.lastIndexOf(STATUS_MARKER);
    if (marker === -1) return commandFault(spooled);
    const tail = spooled.output.slice(marker + STATUS_MARKER.length);
    const colon = tail.indexOf(":");
    const tempPath = tail.slice(colon + 1).trim();
    const [file] = await this.host.download([tempPath]);
    await this.host.run(`rm -f -- ${shellQuote(tempPath)}`);
    if (!file?.content)
      return fault("backend_unavailable", { detail: "the listing could not be read back from the sandbox" });
    return { status: Number(tail.slice(0, colon)), output: decodeUtf8Lossy(file.content) };
  }
}

/** True for a listed path that is a valid, canonical virtual path. */
function isCanonical(path: string): boolean {
  const checked = checkPath(path);
  return checked.ok && checked.path === path;
}

function fileEntry(record: StatRecord): DriverEntry {
  return { path: record.path, kind: "file", size: record.size, modifiedAt: isoSeconds(record.mtime) };
}

function commandFault(response: ExecuteResponse): Fault {
  if (response.exitCode === 124) return fault("timeout", { detail: "the sandbox command timed out" });
  return fault("backend_unavailable", {
    detail: `the sandbox command did not complete (exit ${response.exitCode ?? "none"})`,
  });
}

function failedStatus(status: number): Fault {
  return fault("backend_unavailable", { detail: `the sandbox command failed with status ${status}` });
}

/** The fault of a transfer's answer for one file (or of a missing answer). */
function transferFault(answer: FileUploadResponse | FileDownloadResponse | undefined): Fault {
  const code = answer?.code ?? answer?.error ?? "file_not_found";
  if (code === "file_not_found" || code === "is_directory" || code === "not_a_directory") return fault(code);
  if (code === "permission_denied" || code === "invalid_path") return fault(code);
  // Anything else (the sandbox unavailable, a timeout): the sandbox's own words say why.
  return fault(code, answer?.message ? { detail: answer.message } : {});
}
