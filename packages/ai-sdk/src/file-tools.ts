import type { BackendProtocol } from "@deepfs/core";
import { createFileToolDefinitions, type FileToolName, type FileToolOptions } from "@deepfs/tools";
import { type Tool, tool } from "ai";

/** The AI SDK tools {@link createFileTools} answers, keyed by tool name (a `ToolSet`). */
export type FileTools = Partial<Record<FileToolName, Tool>>;

/**
 * deepagents' file tools (`ls`, `read_file`, `write_file`, `edit_file`, `glob`, `grep`, same names,
 * arguments and result text) over any deepfs backend, as AI SDK tools for `generateText`,
 * `streamText` or a `ToolLoopAgent`:
 *
 * ```ts
 * const result = await generateText({ model, tools: createFileTools(backend), stopWhen: stepCountIs(10), prompt });
 * ```
 *
 * - `readOnly: true` leaves out write_file and edit_file; `only` keeps just the named tools.
 * - A failure (the backend's `error`/`code`, an invalid path, a read-only route, a thrown exception)
 *   is the tool's result text, `Error...: sentence [code]`, never an exception in the tool loop.
 * - Paths go to the backend unchanged, so they pass its own validation (no `..`, no escape from its root).
 */
export function createFileTools(backend: BackendProtocol, options: FileToolOptions = {}): FileTools {
  const tools: FileTools = {};
  for (const definition of createFileToolDefinitions(backend, options)) {
    const execute = definition.execute as (input: unknown) => Promise<string>;
    tools[definition.name] = tool({
      description: definition.description,
      inputSchema: definition.inputSchema,
      execute: (input: unknown) => execute(input),
    }) as Tool;
  }
  return tools;
}
