import {
  type BackendProtocol,
  diffVersions,
  type FileVersion,
  fileDataToBytes,
  type HistoryProtocol,
  hasHistoryMethods,
  type ReadRawResult,
} from "@deepfs/core";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import * as z from "zod";
import { failureOf, guarded, success } from "./results.js";
import { diffOutput, historyOutput, readVersionOutput, writeOutput } from "./schemas.js";

export { hasHistoryMethods };

/** The tools over a backend's version history: read ones, and `restore_file`. */
export const HISTORY_READ_TOOLS = ["file_history", "read_file_version", "diff_file"] as const;
export const HISTORY_WRITE_TOOLS = ["restore_file"] as const;

/**
 * True when `backend` keeps version history now: it has the history methods and a snapshot of it
 * succeeds (a backend with history off, or a composite with a member keeping none, answers
 * `unsupported`). `deepfs mcp` registers the history tools only then.
 */
export async function keepsHistory(backend: BackendProtocol): Promise<boolean> {
  if (!hasHistoryMethods(backend)) return false;
  try {
    const result = await backend.snapshot();
    return !result.error;
  } catch {
    return false;
  }
}

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A version's (or the current file's) content: text when it is UTF-8, else bytes. */
function sideOf(result: ReadRawResult): string | Uint8Array {
  const bytes = result.data ? fileDataToBytes(result.data) : new Uint8Array();
  try {
    return UTF8.decode(bytes);
  } catch {
    return bytes;
  }
}

function versionLine(v: FileVersion): string {
  return `${v.version}  ${v.op}  ${v.op === "delete" ? "(deleted)" : `${v.size} bytes`}  ${v.modified_at}`;
}

/** Registers file_history, read_file_version and diff_file (and restore_file unless read-only). */
export function registerHistoryTools(
  server: McpServer,
  backend: BackendProtocol & HistoryProtocol,
  options: { readOnly: boolean },
): void {
  server.registerTool(
    "file_history",
    {
      title: "List the versions of a file",
      description:
        "Lists the versions of a file, newest first: each write, edit, upload, delete and restore is one. " +
        "Pass a version to read_file_version, diff_file or restore_file.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file"),
        limit: z.number().int().min(1).optional().describe("At most this many versions (newest first)"),
      },
      outputSchema: historyOutput,
      annotations: READ_ONLY,
    },
    ({ file_path, limit }) =>
      guarded(async () => {
        const result = await backend.history(file_path, limit === undefined ? {} : { limit });
        const failed = failureOf(result);
        if (failed) return failed;
        const versions = result.versions ?? [];
        const text = versions.length === 0 ? `No versions of '${file_path}'` : versions.map(versionLine).join("\n");
        return success(text, { path: file_path, versions });
      }),
  );

  server.registerTool(
    "read_file_version",
    {
      title: "Read one version of a file",
      description:
        "The whole content of a file as of one version (from file_history). A binary version is described, not dumped.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file"),
        version: z.string().describe("A version id from file_history"),
      },
      outputSchema: readVersionOutput,
      annotations: READ_ONLY,
    },
    ({ file_path, version }) =>
      guarded(async () => {
        const result = await backend.readVersion(file_path, version);
        const failed = failureOf(result);
        if (failed) return failed;
        const content = sideOf(result);
        const etag = result.etag === undefined ? {} : { etag: result.etag };
        if (typeof content === "string") {
          return success(content, { path: file_path, version, content, ...etag });
        }
        const size = content.byteLength;
        return success(`'${file_path}' at ${version} is binary (${size} bytes); its bytes are not shown as text.`, {
          path: file_path,
          version,
          binary: true,
          size,
          ...etag,
        });
      }),
  );

  server.registerTool(
    "diff_file",
    {
      title: "Diff a file between versions",
      description:
        "A unified diff of a file from one version to another, or to its current content when `to_version` is " +
        "left out. A binary change is one summary line.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file"),
        from_version: z.string().describe("The old side: a version id from file_history"),
        to_version: z.string().optional().describe("The new side: a version id (default: the file as it is now)"),
      },
      outputSchema: diffOutput,
      annotations: READ_ONLY,
    },
    ({ file_path, from_version, to_version }) =>
      guarded(async () => {
        const result = await diffVersions(backend, file_path, from_version, to_version);
        const failed = failureOf(result);
        if (failed) return failed;
        const diff = result.diff ?? "";
        const to = to_version ?? "current";
        const text = diff === "" ? `No differences in '${file_path}' between ${from_version} and ${to}` : diff;
        return success(text, { path: file_path, from_version, to_version: to, diff });
      }),
  );

  if (options.readOnly) return;
  server.registerTool(
    "restore_file",
    {
      title: "Restore a version of a file",
      description:
        "Writes a version's content (from file_history) back as the file's newest version; the versions in " +
        "between stay in the history. Pass `if_match` (an etag) to restore only if nobody changed the file meanwhile.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file"),
        version: z.string().describe("The version id to restore"),
        if_match: z.string().optional().describe("Only if the file's current etag is this one"),
      },
      outputSchema: writeOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ file_path, version, if_match }) =>
      guarded(async () => {
        const result = await backend.restore(file_path, version, if_match === undefined ? {} : { ifMatch: if_match });
        const failed = failureOf(result);
        if (failed) return failed;
        const path = result.path ?? file_path;
        return success(`Restored '${path}' to ${version}`, { path, etag: result.etag });
      }),
  );
}
