import type { BackendProtocol } from "@deepfs/core";
import { type AnyFileToolDefinition, createFileToolDefinitions, type FileToolOptions } from "@deepfs/tools";
import { type FunctionTool, tool } from "@openai/agents";

/** One of the function tools {@link createFileTools} answers (its parameters are a zod object schema). */
export type FileFunctionTool = FunctionTool<unknown, AnyFileToolDefinition["inputSchema"], unknown>;

/**
 * deepagents' file tools (`ls`, `read_file`, `write_file`, `edit_file`, `glob`, `grep`, same names,
 * arguments and result text) over any deepfs backend, as OpenAI Agents SDK function tools:
 *
 * ```ts
 * const agent = new Agent({ name: "files", instructions, tools: createFileTools(backend, { readOnly: true }) });
 * const result = await run(agent, "Summarise /docs/guide.md");
 * ```
 *
 * - The tools are strict (the SDK's default): the SDK turns each optional argument (`offset`,
 *   `limit`, `path`, `glob`, ...) into a required nullable one for the model and strips the nulls
 *   before the tool runs, so a missing argument takes deepagents' default.
 * - `readOnly: true` leaves out write_file and edit_file; `only` keeps just the named tools.
 * - A failure (the backend's `error`/`code`, an invalid path, a read-only route, a thrown exception)
 *   is the tool's output text, `Error...: sentence [code]`, never an exception in the agent loop.
 * - Paths go to the backend unchanged, so they pass its own validation (no `..`, no escape from its root).
 */
export function createFileTools(backend: BackendProtocol, options: FileToolOptions = {}): FileFunctionTool[] {
  return createFileToolDefinitions(backend, options).map((definition) => {
    const execute = definition.execute as (input: unknown) => Promise<string>;
    return tool({
      name: definition.name,
      description: definition.description,
      parameters: definition.inputSchema,
      execute: (input: unknown) => execute(input),
    });
  });
}
