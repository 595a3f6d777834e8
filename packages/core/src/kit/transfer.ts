/** uploadFiles and downloadFiles over a driver: validation, batching and the one coarse-code rule. */
import { checkPath } from "../paths.js";
import type { FileDownloadResponse, FileUploadResponse, MaybePromise } from "../protocol.js";
import { encodeUtf8 } from "../text.js";
import {
  type Driver,
  type DriverFile,
  type DriverWindow,
  type Fault,
  fault,
  isFault,
  type WriteCall,
} from "./driver.js";
import { mapLimit } from "./limit.js";
import { coarseCode, failureOf } from "./messages.js";

/** The call of one upload's write (shared: drivers do not change calls). */
const UPLOAD: WriteCall = Object.freeze({ op: "upload" });

/** Runs one driver call as a mutation of `paths` (the facade's per-path lock), catching throws. */
export type Guard = <T>(paths: string[], call: () => MaybePromise<T | Fault>) => MaybePromise<T | Fault>;

function uploadFailure(path: string, f: Fault): FileUploadResponse {
  const { error, code } = failureOf("upload", path, f);
  return { path, error: coarseCode(code), code, message: error };
}

/** The contract's `uploadFiles` over `driver`. */
export async function uploadThrough(
  driver: Driver,
  files: Array<[string, Uint8Array]>,
  options: {
    concurrency: number;
    /** The `read_only` fault of a path the store refuses, else null. */
    readOnly: (path: string) => Fault | null;
    guard: Guard;
    argument: (raw: string) => string;
  },
): Promise<FileUploadResponse[]> {
  const out = new Array<FileUploadResponse>(files.length);
  const valid: Array<{ index: number; path: string; bytes: Uint8Array }> = [];
  files.forEach(([rawPath, bytes], index) => {
    const checked = checkPath(options.argument(rawPath));
    if (!checked.ok) {
      out[index] = { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
    } else if (!(bytes instanceof Uint8Array)) {
      const path = checked.path;
      out[index] = {
        path,
        error: "invalid_path",
        code: "invalid_argument",
        message: `Content for '${path}' must be bytes`,
      };
    } else {
      const refused = options.readOnly(checked.path);
      if (refused) {
        out[index] = uploadFailure(checked.path, refused);
        return;
      }
      valid.push({ index, path: checked.path, bytes });
    }
  });
  if (driver.writeBatch && valid.length > 1) {
    const batch = valid.map(({ path, bytes }) => ({ path, bytes }));
    const written = await options.guard(
      valid.map((v) => v.path),
      () => (driver.writeBatch as NonNullable<Driver["writeBatch"]>)(batch, {}),
    );
    valid.forEach(({ index, path }, i) => {
      const one = isFault(written) ? written : (written[i] ?? { fault: "backend_unavailable" as const });
      out[index] = isFault(one) ? uploadFailure(path, one) : { path, error: null };
    });
    return out;
  }
  await mapLimit(valid, options.concurrency, async ({ index, path, bytes }) => {
    const written = await options.guard([path], () => driver.write(path, bytes, UPLOAD));
    out[index] = isFault(written) ? uploadFailure(path, written) : { path, error: null };
  });
  return out;
}

/** The contract's `downloadFiles` over `driver`. */
export async function downloadThrough(
  driver: Driver,
  paths: string[],
  options: { concurrency: number; guard: Guard; argument: (raw: string) => string },
): Promise<FileDownloadResponse[]> {
  const out = new Array<FileDownloadResponse>(paths.length);
  const valid: Array<{ index: number; path: string }> = [];
  paths.forEach((rawPath, index) => {
    const checked = checkPath(options.argument(rawPath));
    if (checked.ok) valid.push({ index, path: checked.path });
    else
      out[index] = {
        path: rawPath,
        content: null,
        error: "invalid_path",
        code: "invalid_path",
        message: checked.error,
      };
  });
  const answer = (index: number, path: string, file: DriverFile | DriverWindow | Fault | undefined) => {
    out[index] = downloadAnswer(path, file ?? fault("backend_unavailable", { detail: "no answer for this file" }));
  };
  if (driver.readBatch && valid.length > 1) {
    const batch = driver.readBatch.bind(driver);
    const files = await options.guard([], () =>
      batch(
        valid.map((v) => v.path),
        {},
      ),
    );
    for (const [i, { index, path }] of valid.entries()) answer(index, path, isFault(files) ? files : files[i]);
    return out;
  }
  await mapLimit(valid, options.concurrency, async ({ index, path }) => {
    answer(index, path, await options.guard([], () => driver.read(path, { whole: true })));
  });
  return out;
}

/** One entry of a download's answer. */
function downloadAnswer(path: string, file: DriverFile | DriverWindow | Fault): FileDownloadResponse {
  if (isFault(file) || "window" in file) {
    const f: Fault = isFault(file) ? file : fault("backend_unavailable", { detail: "the store answered a window" });
    const { error, code } = failureOf("download", path, f);
    return { path, content: null, error: coarseCode(code), code, message: error };
  }
  const content = typeof file.content === "string" ? encodeUtf8(file.content) : file.content;
  return { path, content, error: null };
}
