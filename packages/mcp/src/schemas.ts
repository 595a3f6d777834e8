/**
 * Output schemas of the tools: the deepfs contract's result shapes (every field optional, as in the
 * contract, because a failed call carries only `error` and `code`).
 */
import * as z from "zod";

const errorFields = {
  error: z.string().optional().describe("Why the call failed: a sentence naming the path"),
  code: z.string().optional().describe("The deepfs error code (file_not_found, invalid_path, read_only, ...)"),
};

const fileInfo = z.object({
  path: z.string().describe("Absolute path; a directory's ends with '/'"),
  is_dir: z.boolean().optional(),
  size: z.number().optional().describe("Size in bytes (0 for directories)"),
  modified_at: z.string().optional().describe("ISO 8601 time of the last modification"),
});

export const lsOutput = {
  path: z.string().optional(),
  files: z.array(fileInfo).optional(),
  ...errorFields,
};

export const readOutput = {
  path: z.string().optional(),
  content: z.string().optional().describe("The raw lines of the window, without line numbers (text files only)"),
  mimeType: z.string().optional(),
  binary: z.boolean().optional().describe("True for a binary file: its bytes are not in `content`"),
  size: z.number().optional().describe("Size in bytes of a binary file"),
  totalLines: z.number().optional(),
  startLine: z.number().optional(),
  endLine: z.number().optional(),
  nextOffset: z.number().optional().describe("The offset to read the next window from; absent at the end"),
  etag: z.string().optional(),
  invalidUtf8: z.boolean().optional(),
  ...errorFields,
};

export const globOutput = {
  files: z.array(fileInfo).optional(),
  truncated: z.boolean().optional(),
  ...errorFields,
};

export const grepOutput = {
  matches: z.array(z.object({ path: z.string(), line: z.number(), text: z.string() })).optional(),
  truncated: z.boolean().optional(),
  ...errorFields,
};

export const writeOutput = {
  path: z.string().optional(),
  etag: z.string().optional(),
  ...errorFields,
};

export const editOutput = {
  path: z.string().optional(),
  occurrences: z.number().optional(),
  etag: z.string().optional(),
  ...errorFields,
};

export const deleteOutput = {
  path: z.string().optional(),
  ...errorFields,
};

export const executeOutput = {
  output: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  truncated: z.boolean().optional(),
  ...errorFields,
};

const fileVersion = z.object({
  version: z.string().describe("Opaque id: pass it to read_file_version, diff_file or restore_file"),
  etag: z.string().describe("The file's etag as of this version ('' for a delete)"),
  size: z.number().describe("Bytes (0 for a delete)"),
  modified_at: z.string().describe("ISO 8601 time of the change"),
  op: z.string().describe("write, edit, upload, delete or restore"),
});

export const historyOutput = {
  path: z.string().optional(),
  versions: z.array(fileVersion).optional().describe("Newest first"),
  ...errorFields,
};

export const readVersionOutput = {
  path: z.string().optional(),
  version: z.string().optional(),
  content: z.string().optional().describe("The whole content (text versions only)"),
  binary: z.boolean().optional().describe("True for a binary version: its bytes are not in `content`"),
  size: z.number().optional(),
  etag: z.string().optional(),
  ...errorFields,
};

export const diffOutput = {
  path: z.string().optional(),
  from_version: z.string().optional(),
  to_version: z.string().optional().describe("A version id, or 'current'"),
  diff: z.string().optional().describe("Unified diff ('' when equal; one summary line for a binary change)"),
  ...errorFields,
};
