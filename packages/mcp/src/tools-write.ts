import type { BackendProtocol, SandboxBackendProtocol } from "@deepfs/core";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import * as z from "zod";
import { failureOf, guarded, success } from "./results.js";
import { deleteOutput, editOutput, executeOutput, writeOutput } from "./schemas.js";

/** Registers write_file, edit_file and delete (deepagents' names): the tools that change files. */
export function registerWriteTools(server: McpServer, backend: BackendProtocol): void {
  server.registerTool(
    "write_file",
    {
      title: "Write a file",
      description:
        "Writes a whole file: creates it (and its parent directories) or replaces its content entirely. " +
        "Prefer edit_file to change part of an existing file. For a binary file type (e.g. .png), `content` is base64.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file to write"),
        content: z.string().describe("The complete new content of the file"),
      },
      outputSchema: writeOutput,
      // Replaces what was there; writing the same content again changes nothing more.
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ file_path, content }) =>
      guarded(async () => {
        const result = await backend.write(file_path, content);
        const failed = failureOf(result);
        if (failed) return failed;
        const path = result.path ?? file_path;
        return success(`Successfully wrote to '${path}'`, { path, etag: result.etag });
      }),
  );

  server.registerTool(
    "edit_file",
    {
      title: "Edit a file",
      description:
        "Replaces an exact string in a file, atomically. `old_string` must occur exactly once unless " +
        "`replace_all` is true; copy it from read_file's output without the line-number prefix, whitespace included.",
      inputSchema: {
        file_path: z.string().describe("Absolute path of the file to edit"),
        old_string: z.string().describe("The exact text to replace"),
        new_string: z.string().describe("The text to put in its place"),
        replace_all: z.boolean().default(false).describe("Replace every occurrence (default: exactly one)"),
      },
      outputSchema: editOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    ({ file_path, old_string, new_string, replace_all }) =>
      guarded(async () => {
        const result = await backend.edit(file_path, old_string, new_string, replace_all);
        const failed = failureOf(result);
        if (failed) return failed;
        const path = result.path ?? file_path;
        const occurrences = result.occurrences ?? 0;
        return success(`Successfully replaced ${occurrences} occurrence(s) in '${path}'`, {
          path,
          occurrences,
          etag: result.etag,
        });
      }),
  );

  server.registerTool(
    "delete",
    {
      title: "Delete a file or directory",
      description:
        "Deletes a file, or a directory with everything below it. It cannot be undone: delete only what is surely no longer needed.",
      inputSchema: { file_path: z.string().describe("Absolute path of the file or directory to delete") },
      outputSchema: deleteOutput,
      // Deleting the same path again removes nothing more (it answers file_not_found).
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ file_path }) =>
      guarded(async () => {
        const result = await backend.delete(file_path);
        const failed = failureOf(result);
        if (failed) return failed;
        const path = result.path ?? file_path;
        return success(`Deleted ${path}`, { path });
      }),
  );
}

/** Registers execute, for a sandbox backend whose owner allowed it. */
export function registerExecuteTool(server: McpServer, sandbox: SandboxBackendProtocol): void {
  server.registerTool(
    "execute",
    {
      title: "Run a shell command",
      description:
        "Runs a shell command in the sandbox and answers its combined stdout/stderr and exit code (output is " +
        "capped). Prefer the file tools (read_file, grep, glob) over cat, grep and find.",
      inputSchema: {
        command: z.string().describe("The shell command to run"),
        timeout_ms: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe("Timeout in milliseconds; on expiry the exit code is 124"),
      },
      outputSchema: executeOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ command, timeout_ms }) =>
      guarded(async () => {
        const result = await sandbox.execute(command, timeout_ms === undefined ? {} : { timeoutMs: timeout_ms });
        const status = result.exitCode === null ? "" : `\n[exit code ${result.exitCode}]`;
        const cut = result.truncated ? "\n[output truncated]" : "";
        return success(`${result.output}${status}${cut}`, {
          output: result.output,
          exitCode: result.exitCode,
          truncated: result.truncated,
        });
      }),
  );
}
