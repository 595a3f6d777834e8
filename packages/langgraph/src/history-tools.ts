/**
 * LangChain tools over a deepfs backend's version history, for agents that should see and undo
 * their own changes: `file_history`, `diff_file` and `restore_file`. Give them to an agent next to
 * its file tools (`createDeepAgent({ backend, tools: historyTools(backend) })`). Import from
 * `@deepfs/langgraph/tools`; they need `@langchain/core` (a peer of LangGraph, so already there).
 */
import { type BackendProtocol, diffVersions, type HistoryProtocol, hasHistoryMethods } from "@deepfs/core";
import { type StructuredToolInterface, tool } from "@langchain/core/tools";

/** Options of {@link historyTools}. */
export interface HistoryToolsOptions {
  /** Leave out `restore_file` (the agent may look, not undo). */
  readOnly?: boolean;
  /** At most this many versions listed by `file_history` (default 20). */
  maxVersions?: number;
}

const stringField = (description: string) => ({ type: "string" as const, description });

/** The text an agent reads when a history call fails: the backend's sentence, with its code. */
function failed(result: { error?: string; code?: string }): string {
  return `Error (${result.code ?? "failed"}): ${result.error ?? "the call failed"}`;
}

function argument(input: Record<string, unknown>, name: string): string | undefined {
  const value = input[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * `file_history`, `diff_file` and `restore_file` (unless `readOnly`) over `backend`, which must have
 * the history methods (a StateBackend, MemoryBackend, LocalBackend, PostgresBackend, S3Backend or a
 * router over them); with history off their answers say so and how to turn it on.
 */
export function historyTools(backend: BackendProtocol, options: HistoryToolsOptions = {}): StructuredToolInterface[] {
  if (!hasHistoryMethods(backend)) {
    throw new TypeError("historyTools needs a backend with the history methods (history, readVersion, restore, ...)");
  }
  const b: BackendProtocol & HistoryProtocol = backend;
  const limit = options.maxVersions ?? 20;

  const fileHistory = tool(
    async (input: Record<string, unknown>) => {
      const path = argument(input, "file_path") ?? "";
      const got = await b.history(path, { limit });
      if (got.error) return failed(got);
      const versions = got.versions ?? [];
      if (versions.length === 0) return `No versions of '${path}'`;
      const lines = versions.map(
        (v) => `${v.version}\t${v.op}\t${v.op === "delete" ? "(deleted)" : `${v.size} bytes`}\t${v.modified_at}`,
      );
      return `Versions of '${path}', newest first (version, change, size, time):\n${lines.join("\n")}`;
    },
    {
      name: "file_history",
      description:
        "Lists the versions of a file, newest first: each write, edit, upload, delete and restore is one. " +
        "Pass a version to diff_file or restore_file.",
      schema: {
        type: "object",
        properties: { file_path: stringField("Absolute path of the file") },
        required: ["file_path"],
      },
    },
  );

  const diffFile = tool(
    async (input: Record<string, unknown>) => {
      const path = argument(input, "file_path") ?? "";
      const from = argument(input, "from_version") ?? "";
      const to = argument(input, "to_version");
      const got = await diffVersions(b, path, from, to);
      if (got.error) return failed(got);
      return got.diff === "" ? `No differences in '${path}' between ${from} and ${to ?? "now"}` : (got.diff ?? "");
    },
    {
      name: "diff_file",
      description:
        "A unified diff of a file from one version to another, or to its current content when to_version is " +
        "left out. A binary change is one summary line.",
      schema: {
        type: "object",
        properties: {
          file_path: stringField("Absolute path of the file"),
          from_version: stringField("The old side: a version from file_history"),
          to_version: stringField("The new side: a version (default: the file as it is now)"),
        },
        required: ["file_path", "from_version"],
      },
    },
  );

  if (options.readOnly) return [fileHistory, diffFile];

  const restoreFile = tool(
    async (input: Record<string, unknown>) => {
      const path = argument(input, "file_path") ?? "";
      const version = argument(input, "version") ?? "";
      const ifMatch = argument(input, "if_match");
      const got = await b.restore(path, version, ifMatch === undefined ? {} : { ifMatch });
      if (got.error) return failed(got);
      return `Restored '${got.path ?? path}' to version ${version} (a new version; the ones in between stay in the history)`;
    },
    {
      name: "restore_file",
      description:
        "Writes a version of a file (from file_history) back as its newest version: this is how to undo a " +
        "change. Pass if_match (an etag) to restore only if nobody changed the file meanwhile.",
      schema: {
        type: "object",
        properties: {
          file_path: stringField("Absolute path of the file"),
          version: stringField("The version to bring back"),
          if_match: stringField("Only if the file's current etag is this one"),
        },
        required: ["file_path", "version"],
      },
    },
  );
  return [fileHistory, diffFile, restoreFile];
}
