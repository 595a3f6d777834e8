/**
 * How `ShellDriver` reaches a sandbox: its scripts (answered inline, or spooled into a
 * temporary file when the sandbox cuts the output) and its downloads, which never take a file
 * over a given size.
 */
import { type Fault, fault, isFault } from "../kit/driver.js";
import type { ExecuteOptions, ExecuteResponse, FileDownloadResponse, FileUploadResponse } from "../protocol.js";
import { decodeUtf8Lossy } from "../text.js";
import {
  fileCommand,
  fileSizesScript,
  inlineCommand,
  ScriptStatus,
  STATUS_MARKER,
  shellQuote,
} from "./shell-scripts.js";

/** One file of a bounded download: a file over the limit answers code `too_large` and its `size`. */
export interface LimitedDownload extends FileDownloadResponse {
  /** Bytes of a file refused as `too_large`, when the sandbox said. */
  size?: number;
}

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
  /**
   * Optional: reads files like {@link download}, except that a file larger than `maxBytes` is not
   * transferred (its entry answers code `too_large` with its `size`), checked in the sandbox as the
   * file is sent. Without it the driver asks the sandbox for the sizes first (one more command),
   * and a file that grows in between is only refused once it has been transferred.
   */
  downloadWithin?(paths: string[], maxBytes: number): Promise<LimitedDownload[]>;
  /** A path the sandbox keeps for itself: never listed nor searched. */
  isHidden(path: string): boolean;
}

/** A file fetched for a read: its bytes, or its size when it is over the limit (unknown: undefined). */
export type Fetched = { bytes: Uint8Array } | { oversize: number | undefined } | Fault;

/**
 * Largest script output read back from a temporary file: a sandbox process could make a listing
 * (or grep's list of candidate files) grow without end.
 */
const MAX_SPOOLED_BYTES = 256 * 1024 * 1024;

/** The scripts and downloads of one `ShellDriver`. */
export class ShellTransport {
  constructor(private readonly host: ShellHost) {}

  /**
   * Runs a script and returns its exit status and stdout. Output is returned inline; when the
   * sandbox cuts it, the script runs again writing to a temporary file that is downloaded whole
   * (up to {@link MAX_SPOOLED_BYTES}).
   */
  async run(script: string): Promise<{ status: number; output: string } | Fault> {
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
    const [file] = await this.fetch([tempPath], MAX_SPOOLED_BYTES, false);
    await this.host.run(`rm -f -- ${shellQuote(tempPath)}`);
    if (!file || isFault(file) || !("bytes" in file))
      return fault("backend_unavailable", { detail: "the listing could not be read back from the sandbox" });
    return { status: Number(tail.slice(0, colon)), output: decodeUtf8Lossy(file.bytes) };
  }

  /**
   * Downloads `paths`, in order; a file over `maxBytes` is answered with its size and not
   * transferred. The host checks sizes as it sends when it can ({@link ShellHost.downloadWithin});
   * otherwise the sizes are asked for first, unless the caller found the files with a size
   * filter already (`sized`), and a file that grew in between is refused after its transfer.
   */
  async fetch(paths: string[], maxBytes: number, sized: boolean): Promise<Fetched[]> {
    if (!Number.isFinite(maxBytes)) {
      const answers = await this.host.download(paths);
      return paths.map((_, i) => fetched(answers[i], maxBytes));
    }
    if (this.host.downloadWithin) {
      const answers = await this.host.downloadWithin(paths, maxBytes);
      return paths.map((_, i) => fetched(answers[i], maxBytes));
    }
    const out = new Array<Fetched>(paths.length);
    let wanted = paths.map((_, i) => i);
    if (!sized) {
      const sizes = await this.sizes(paths);
      if (isFault(sizes)) return paths.map(() => sizes);
      wanted = [];
      sizes.forEach((size, i) => {
        if (size === "special") out[i] = fault("invalid_argument", { detail: "not a regular file" });
        else if (size !== undefined && size > maxBytes) out[i] = { oversize: size };
        else wanted.push(i);
      });
    }
    if (wanted.length > 0) {
      const answers = await this.host.download(wanted.map((i) => paths[i] as string));
      wanted.forEach((index, j) => {
        out[index] = fetched(answers[j], maxBytes);
      });
    }
    return out;
  }

  /** Size of each regular file among `paths` (undefined: missing or a directory; `special`: neither a file nor a directory). */
  private async sizes(paths: string[]): Promise<Array<number | undefined | "special"> | Fault> {
    const run = await this.run(fileSizesScript(paths));
    if (isFault(run)) return run;
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    const lines = run.output.split("\n");
    return paths.map((_, i) => {
      const line = lines[i];
      if (line === "s") return "special";
      return line !== undefined && /^\d+$/.test(line) ? Number(line) : undefined;
    });
  }
}

function commandFault(response: ExecuteResponse): Fault {
  if (response.exitCode === 124) return fault("timeout", { detail: "the sandbox command timed out" });
  return fault("backend_unavailable", {
    detail: `the sandbox command did not complete (exit ${response.exitCode ?? "none"})`,
  });
}

/** The fault of a script that ended with an unexpected status. */
export function failedStatus(status: number): Fault {
  return fault("backend_unavailable", { detail: `the sandbox command failed with status ${status}` });
}

/** A download's answer for one file as a {@link Fetched}, over `maxBytes` or not. */
function fetched(answer: LimitedDownload | undefined, maxBytes: number): Fetched {
  if (answer?.code === "too_large") return { oversize: answer.size };
  if (!answer || answer.error || !answer.content) return transferFault(answer);
  // A host that could not check before sending (or a file that grew): refused all the same.
  if (answer.content.byteLength > maxBytes) return { oversize: answer.content.byteLength };
  return { bytes: answer.content };
}

/** The fault of a transfer's answer for one file (or of a missing answer). */
export function transferFault(answer: FileUploadResponse | FileDownloadResponse | undefined): Fault {
  const code = answer?.code ?? answer?.error ?? "file_not_found";
  if (code === "file_not_found" || code === "is_directory" || code === "not_a_directory") return fault(code);
  if (code === "permission_denied" || code === "invalid_path") return fault(code);
  // Anything else (the sandbox unavailable, a timeout): the sandbox's own words say why.
  return fault(code, answer?.message ? { detail: answer.message } : {});
}
