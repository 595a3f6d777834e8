import {
  type BackendProtocol,
  type FileInfo,
  formatContentWithLineNumbers,
  formatGrepMatches,
  getMimeType,
  type ReadResult,
  truncateIfTooLong,
} from "@deepfs/core";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import { failure, failureOf, guarded, success } from "./results.js";
import { globOutput, grepOutput, lsOutput, readOutput } from "./schemas.js";

/** Tuning of the read tools. */
export interface ReadToolOptions {
  /** Lines `read_file` returns when the call gives no `limit` (default 100, as deepagents' tool). */
  defaultReadLimit: number;
  /** Largest image `read_file` returns as MCP image content (default 10 MiB, as deepagents' tool). */
  maxImageBytes: number;
}

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

function listing(files: FileInfo[]): string {
  const lines = files.map((f) => (f.is_dir ? `${f.path} (directory)` : `${f.path} (${f.size ?? 0} bytes)`));
  return truncateIfTooLong(lines).join("\n");
}

/** What read_file answers for a binary file: an image as image content, anything else as a note. */
function binaryRead(path: string, bytes: Uint8Array, mimeType: string, maxImageBytes: number): CallToolResult {
  const structured = { path, mimeType, binary: true, size: bytes.byteLength };
  if (mimeType.startsWith("image/") && bytes.byteLength <= maxImageBytes) {
    return {
      content: [{ type: "image", mimeType, data: Buffer.from(bytes).toString("base64") }],
      structuredContent: structured,
    };
  }
  if (mimeType.startsWith("image/")) {
    return failure("too_large", `Image '${path}' is ${bytes.byteLength} bytes, over the ${maxImageBytes}-byte limit`);
  }
  return success(
    `'${path}' is a binary file (${mimeType}, ${bytes.byteLength} bytes); its bytes are not shown as text.`,
    structured,
  );
}

/** What read_file answers for a text window: the lines numbered as `cat -n` (deepagents' rendering). */
function textRead(path: string, result: ReadResult): CallToolResult {
  const content = typeof result.content === "string" ? result.content : "";
  const { content: _, ...fields } = result;
  const structured = { path, content, ...fields };
  const total = result.totalLines ?? 0;
  let text: string;
  if (content === "" && total === 0) text = "System reminder: File exists but has empty contents";
  else if (content === "") text = `Offset is past the end of the file ('${path}' has ${total} lines)`;
  else {
    text = truncateIfTooLong(formatContentWithLineNumbers(content, result.startLine ?? 1));
    if (result.nextOffset !== undefined) {
      text += `\n\n[Showing lines ${result.startLine}-${result.endLine} of ${total}; continue with offset=${result.nextOffset}]`;
    }
  }
  if (result.invalidUtf8) text += "\n\n[The file is not valid UTF-8: invalid bytes are shown as U+FFFD]";
  return success(text, structured);
}

/** Registers ls, read_file, glob and grep. */
export function registerReadTools(server: McpServer, backend: BackendProtocol, options: ReadToolOptions): void {
  server.registerTool(
    "ls",
    {
      title: "List a directory",
      description:
        "Lists the direct children of a directory (directories end with '/'). Use it to explore before read_file or edit_file.",
      inputSchema: { path: z.string().default("/").describe("Absolute directory path to list (default: /)") },
      outputSchema: lsOutput,
      annotations: READ_ONLY,
    },
    ({ path }) =>
      guarded(async () => {
        const result = await backend.ls(path);
        const failed = failureOf(result);
        if (failed) return failed;
        const files = result.files ?? [];
        return success(files.length === 0 ? `No files found in ${path}` : listing(files), { path, files });
      }),
  );

  server.registerTool(
    "read_file",
    {
      title: "Read a file",
      description:
        "Reads a text file as numbered lines (cat -n style), `limit` lines from line `offset` (0-based); page " +
        "through large files with offset/limit. An image comes back as image content; other binary files are " +
        "described, not dumped.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file to read"),
        offset: z.number().int().min(0).default(0).describe("Line offset to start reading from (0-based)"),
        limit: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe(`Maximum number of lines to read (default ${options.defaultReadLimit})`),
      },
      outputSchema: readOutput,
      annotations: READ_ONLY,
    },
    ({ file_path, offset, limit }) =>
      guarded(async () => {
        const result = await backend.read(file_path, offset, limit ?? options.defaultReadLimit);
        const failed = failureOf(result);
        if (failed) return failed;
        const mimeType = result.mimeType ?? getMimeType(file_path);
        if (result.content instanceof Uint8Array) {
          return binaryRead(file_path, result.content, mimeType, options.maxImageBytes);
        }
        return textRead(file_path, result);
      }),
  );

  server.registerTool(
    "glob",
    {
      title: "Find files by pattern",
      description:
        "Finds files matching a glob pattern below a directory: `*` and `?` stay within one directory, `**` " +
        "crosses directories, `{a,b}` and `[...]` work (e.g. `**/*.py`, `src/**/*.ts`). Answers absolute paths.",
      inputSchema: {
        pattern: z.string().describe("Glob pattern, relative to `path` (e.g. '**/*.py')"),
        path: z.string().default("/").describe("Absolute directory to search from (default: /)"),
      },
      outputSchema: globOutput,
      annotations: READ_ONLY,
    },
    ({ pattern, path }) =>
      guarded(async () => {
        const result = await backend.glob(pattern, path);
        const failed = failureOf(result);
        if (failed) return failed;
        const files = result.files ?? [];
        const text =
          files.length === 0
            ? `No files found matching pattern '${pattern}'`
            : truncateIfTooLong(files.map((f) => f.path)).join("\n");
        return success(text, { files, truncated: result.truncated === true });
      }),
  );

  server.registerTool(
    "grep",
    {
      title: "Search file contents",
      description:
        "Searches files for a LITERAL, case-sensitive text (not a regular expression: `foo|bar` finds the " +
        "text 'foo|bar'). Binary files are skipped. Results are ordered by path, then line.",
      inputSchema: {
        pattern: z.string().describe("The literal text to search for"),
        path: z.string().default("/").describe("Absolute directory (or file) to search in (default: /)"),
        glob: z
          .string()
          .optional()
          .describe("Only files matching this glob ('*.py' matches the name at any depth; 'src/**/*.ts' the path)"),
        max_count: z.number().int().min(1).optional().describe("Cap on the total number of matches"),
        output_mode: z
          .enum(["content", "files_with_matches", "count"])
          .default("content")
          .describe("'content': matching lines (default); 'files_with_matches': paths only; 'count': per file"),
      },
      outputSchema: grepOutput,
      annotations: READ_ONLY,
    },
    ({ pattern, path, glob, max_count, output_mode }) =>
      guarded(async () => {
        const result = await backend.grep(pattern, path, glob ?? null, max_count ?? null);
        const failed = failureOf(result);
        if (failed) return failed;
        const matches = result.matches ?? [];
        let text = truncateIfTooLong(formatGrepMatches(matches, output_mode));
        if (matches.length === 0) text = `No matches found for '${pattern}'`;
        if (result.truncated) text += "\n\n[More matches exist than max_count: narrow the path or the pattern]";
        return success(text, { matches, truncated: result.truncated === true });
      }),
  );
}
