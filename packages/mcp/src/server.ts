import { createRequire } from "node:module";
import { type BackendProtocol, isSandboxBackend } from "@deepfs/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { HISTORY_READ_TOOLS, HISTORY_WRITE_TOOLS, hasHistoryMethods, registerHistoryTools } from "./tools-history.js";
import { registerReadTools } from "./tools-read.js";
import { registerExecuteTool, registerWriteTools } from "./tools-write.js";

/** The version of this package, from its package.json (one directory above src/ and dist/). */
const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

/** The tools that only read. */
export const READ_TOOLS = ["ls", "read_file", "glob", "grep"] as const;
/** The tools that change files; none is registered in read-only mode. */
export const WRITE_TOOLS = ["write_file", "edit_file", "delete"] as const;

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  /** Register only the read tools (ls, read_file, glob, grep): calls of any other tool are refused. */
  readOnly?: boolean;
  /**
   * Register `execute` when the backend is a sandbox (implements `execute` and `id`). Off by
   * default: a shell reaches past the file tools' path validation. Never in read-only mode.
   */
  allowExecute?: boolean;
  /**
   * Register the history tools (file_history, read_file_version, diff_file, and restore_file unless
   * read-only). Default: when the backend has the history methods; pass the answer of
   * `keepsHistory(backend)` to register them only when it keeps history now (as `deepfs mcp` does).
   */
  history?: boolean;
  /** Server name announced to clients (default "deepfs"). */
  name?: string;
  /** A sentence about the store, added to the instructions the client shows the model. */
  description?: string;
  /** Lines `read_file` returns when the call gives no `limit` (default 100). */
  defaultReadLimit?: number;
  /** Largest image `read_file` returns as image content (default 10 MiB). */
  maxImageBytes?: number;
}

/**
 * An MCP server (the official SDK's `McpServer`) exposing a deepfs backend through the file tools
 * of deepagents: `ls`, `read_file`, `write_file`, `edit_file`, `glob`, `grep`, `delete` and, for a
 * sandbox when allowed, `execute`; plus the history tools (`file_history`, `read_file_version`,
 * `diff_file`, `restore_file`) for a backend with history. Connect it to any transport:
 *
 * ```ts
 * const server = createMcpServer(new LocalBackend({ rootDir: "./workspace" }), { readOnly: true });
 * await server.connect(new StdioServerTransport());
 * ```
 *
 * - Every path goes to the backend as given, so it passes the backend's own validation (no `..`,
 *   no escape from its root): the server adds no second, weaker check.
 * - A failed call answers a tool result with `isError: true`, the text `Error [code]: sentence`
 *   and `structuredContent: { error, code }`; a successful one carries the contract's result shape
 *   as `structuredContent`, described by each tool's output schema.
 * - Annotations: the read tools are `readOnlyHint`; write/edit/delete/restore are `destructiveHint`.
 */
export function createMcpServer(backend: BackendProtocol, options: McpServerOptions = {}): McpServer {
  const readOnly = options.readOnly === true;
  const execute = !readOnly && options.allowExecute === true && isSandboxBackend(backend);
  const history = options.history !== false && hasHistoryMethods(backend);
  const tools = [
    ...READ_TOOLS,
    ...(history ? HISTORY_READ_TOOLS : []),
    ...(readOnly ? [] : WRITE_TOOLS),
    ...(history && !readOnly ? HISTORY_WRITE_TOOLS : []),
    ...(execute ? ["execute"] : []),
  ];
  const instructions = [
    "Files of a deepfs store. Paths are absolute POSIX paths ('/src/app.py'); directories end with '/' in listings.",
    options.description ?? "",
    readOnly ? "This server is read-only: files can be listed, read and searched, not changed." : "",
    `Tools: ${tools.join(", ")}.`,
  ]
    .filter(Boolean)
    .join(" ");
  const server = new McpServer(
    { name: options.name ?? "deepfs", version: VERSION },
    { capabilities: { tools: {} }, instructions },
  );
  registerReadTools(server, backend, {
    defaultReadLimit: options.defaultReadLimit ?? 100,
    maxImageBytes: options.maxImageBytes ?? 10 * 1024 * 1024,
  });
  if (!readOnly) registerWriteTools(server, backend);
  if (history && hasHistoryMethods(backend)) registerHistoryTools(server, backend, { readOnly });
  if (execute && isSandboxBackend(backend)) registerExecuteTool(server, backend);
  return server;
}
