import {
  type BackendProtocol,
  DeepfsError,
  EMPTY_CONTENT_WARNING,
  type FileInfo,
  formatGrepMatches,
  getMimeType,
  type ReadResult,
  truncateIfTooLong,
} from "@deepfs/core";
import type * as z from "zod";
import {
  EDIT_FILE_DESCRIPTION,
  GLOB_DESCRIPTION,
  GREP_DESCRIPTION,
  LS_DESCRIPTION,
  READ_FILE_DESCRIPTION,
  WRITE_FILE_DESCRIPTION,
} from "./descriptions.js";
import { errorText, guarded } from "./results.js";
import {
  type EditFileInput,
  editFileInput,
  type GlobInput,
  type GrepInput,
  globInput,
  grepInput,
  type LsInput,
  lsInput,
  type ReadFileInput,
  readFileInput,
  type WriteFileInput,
  writeFileInput,
} from "./schemas.js";

/** The tools that only read, in deepagents' order. */
export const READ_TOOL_NAMES = ["ls", "read_file", "glob", "grep"] as const;
/** The tools that change files; left out in read-only mode. */
export const WRITE_TOOL_NAMES = ["write_file", "edit_file"] as const;
/** The six file tools, in deepagents' order. */
export const FILE_TOOL_NAMES = ["ls", "read_file", "write_file", "edit_file", "glob", "grep"] as const;
export type FileToolName = (typeof FILE_TOOL_NAMES)[number];

/** Lines `read_file` returns when the call gives no `limit` (deepagents' default). */
export const DEFAULT_READ_LIMIT = 100;
/** Matches `grep` returns when the call gives no `max_count` (deepagents' default). */
export const DEFAULT_GREP_MAX_COUNT = 1000;
/** What deepagents appends when grep stopped at `max_count`. */
export const GREP_TRUNCATION_NOTE =
  "Note: the search stopped early because it hit the maximum match count. The matches above are valid but incomplete. Narrow the search (a more specific pattern or a narrower path), or raise max_count, to see the rest.";

/** Options of {@link createFileToolDefinitions} and of every framework adapter. */
export interface FileToolOptions {
  /** Leave out the tools that change files (write_file, edit_file). */
  readOnly?: boolean;
  /** Only these tools (names from {@link FILE_TOOL_NAMES}); `readOnly` still leaves out the write tools. */
  only?: readonly string[];
}

/**
 * One file tool, framework-neutral: a name, a description, a zod input schema and an executor that
 * answers the text the model sees. The executor never throws: a backend error (`error`/`code`), an
 * invalid path and a thrown exception all come back as text starting with `Error`.
 */
export interface FileToolDefinition<Schema extends z.ZodObject = z.ZodObject> {
  name: FileToolName;
  description: string;
  inputSchema: Schema;
  /** True for ls, read_file, glob and grep. */
  readOnly: boolean;
  execute(input: z.infer<Schema>): Promise<string>;
}

/** Any of the six definitions (the input type of each is its own schema's). */
export type AnyFileToolDefinition =
  | FileToolDefinition<typeof lsInput>
  | FileToolDefinition<typeof readFileInput>
  | FileToolDefinition<typeof writeFileInput>
  | FileToolDefinition<typeof editFileInput>
  | FileToolDefinition<typeof globInput>
  | FileToolDefinition<typeof grepInput>;

/**
 * The deepagents file tools over any deepfs backend (StateBackend, LocalBackend, PostgresBackend, a
 * CompositeBackend router, a branch...), for a framework adapter to wrap. Every path goes to the
 * backend as given, so it passes the backend's own validation (no `..`, no backslash, no escape
 * from its root, read-only routes answer `read_only`): the tools add no second, weaker check.
 *
 * @throws DeepfsError (`invalid_argument`) when `only` names a tool that does not exist.
 */
export function createFileToolDefinitions(
  backend: BackendProtocol,
  options: FileToolOptions = {},
): AnyFileToolDefinition[] {
  const unknown = (options.only ?? []).filter((name) => !(FILE_TOOL_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new DeepfsError(
      "invalid_argument",
      `Unknown file tool(s) in 'only': ${unknown.join(", ")} (known: ${FILE_TOOL_NAMES.join(", ")})`,
    );
  }
  const all: AnyFileToolDefinition[] = [
    lsTool(backend),
    readFileTool(backend),
    writeFileTool(backend),
    editFileTool(backend),
    globTool(backend),
    grepTool(backend),
  ];
  return all.filter(
    (tool) =>
      (tool.readOnly || options.readOnly !== true) && (options.only === undefined || options.only.includes(tool.name)),
  );
}

function lsTool(backend: BackendProtocol): FileToolDefinition<typeof lsInput> {
  return {
    name: "ls",
    description: LS_DESCRIPTION,
    inputSchema: lsInput,
    readOnly: true,
    execute: ({ path }: LsInput) =>
      guarded(async () => {
        const dir = path || "/";
        const result = await backend.ls(dir);
        if (result.error) return errorText(result, "Error listing files: ");
        const files = result.files ?? [];
        if (files.length === 0) return `No files found in ${dir}`;
        return truncateIfTooLong(files.map(listingLine)).join("\n");
      }),
  };
}

function listingLine(info: FileInfo): string {
  if (info.is_dir) return `${info.path} (directory)`;
  return info.size ? `${info.path} (${info.size} bytes)` : info.path;
}

function readFileTool(backend: BackendProtocol): FileToolDefinition<typeof readFileInput> {
  return {
    name: "read_file",
    description: READ_FILE_DESCRIPTION,
    inputSchema: readFileInput,
    readOnly: true,
    execute: ({ file_path, offset, limit }: ReadFileInput) =>
      guarded(async () => {
        const result = await backend.read(file_path, offset ?? 0, limit ?? DEFAULT_READ_LIMIT);
        if (result.error) return errorText(result);
        if (result.content instanceof Uint8Array) {
          const mimeType = result.mimeType ?? getMimeType(file_path);
          return `'${file_path}' is a binary file (${mimeType}, ${result.content.byteLength} bytes); its bytes are not shown as text.`;
        }
        return readText(result, offset ?? 0);
      }),
  };
}

/**
 * deepagents' rendering of a text window: notices, then the status header `@@ lines A-B of T |
 * next offset N @@`, then the lines exactly as stored (no line numbers).
 */
function readText(result: ReadResult, offset: number): string {
  const content = typeof result.content === "string" ? result.content : "";
  const total = result.totalLines ?? 0;
  if (content === "" && total === 0) return EMPTY_CONTENT_WARNING;
  if (content === "")
    return `Error: line offset ${offset} is past the end of the file (${total} lines) [invalid_argument]`;
  const body = content.endsWith("\n") ? content.slice(0, -1) : content;
  const start = result.startLine ?? offset + 1;
  const end = result.endLine ?? start + body.split("\n").length - 1;
  const fields = [`lines ${start}-${end}${result.totalLines === undefined ? "" : ` of ${total}`}`];
  if (result.nextOffset !== undefined && end < total) fields.push(`next offset ${result.nextOffset}`);
  const notices = result.invalidUtf8 ? ["[The file is not valid UTF-8: invalid bytes are shown as U+FFFD]"] : [];
  return truncateIfTooLong([...notices, `@@ ${fields.join(" | ")} @@`, body].join("\n"));
}

function writeFileTool(backend: BackendProtocol): FileToolDefinition<typeof writeFileInput> {
  return {
    name: "write_file",
    description: WRITE_FILE_DESCRIPTION,
    inputSchema: writeFileInput,
    readOnly: false,
    execute: ({ file_path, content }: WriteFileInput) =>
      guarded(async () => {
        const result = await backend.write(file_path, content);
        if (result.error) return errorText(result);
        return `Successfully wrote to '${file_path}'`;
      }),
  };
}

function editFileTool(backend: BackendProtocol): FileToolDefinition<typeof editFileInput> {
  return {
    name: "edit_file",
    description: EDIT_FILE_DESCRIPTION,
    inputSchema: editFileInput,
    readOnly: false,
    execute: ({ file_path, old_string, new_string, replace_all }: EditFileInput) =>
      guarded(async () => {
        const result = await backend.edit(file_path, old_string, new_string, replace_all ?? false);
        if (result.error) return errorText(result);
        return `Successfully replaced ${result.occurrences ?? 0} occurrence(s) in '${file_path}'`;
      }),
  };
}

function globTool(backend: BackendProtocol): FileToolDefinition<typeof globInput> {
  return {
    name: "glob",
    description: GLOB_DESCRIPTION,
    inputSchema: globInput,
    readOnly: true,
    execute: ({ pattern, path }: GlobInput) =>
      guarded(async () => {
        const result = await backend.glob(pattern, path || "/");
        if (result.error) return errorText(result, "Error finding files: ");
        const files = result.files ?? [];
        if (files.length === 0) return `No files found matching pattern '${pattern}'`;
        return truncateIfTooLong(files.map((f) => f.path)).join("\n");
      }),
  };
}

function grepTool(backend: BackendProtocol): FileToolDefinition<typeof grepInput> {
  return {
    name: "grep",
    description: GREP_DESCRIPTION,
    inputSchema: grepInput,
    readOnly: true,
    execute: ({ pattern, path, glob, max_count, output_mode }: GrepInput) =>
      guarded(async () => {
        const result = await backend.grep(pattern, path || "/", glob ?? null, max_count ?? DEFAULT_GREP_MAX_COUNT);
        if (result.error) return errorText(result);
        const matches = result.matches ?? [];
        if (matches.length === 0) return `No matches found for pattern '${pattern}'`;
        const text = truncateIfTooLong(formatGrepMatches(matches, output_mode ?? "content"));
        return result.truncated ? `${text}\n\n${GREP_TRUNCATION_NOTE}` : text;
      }),
  };
}
