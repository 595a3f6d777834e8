/**
 * deepfs file tools in the OpenAI Agents SDK: `createFileTools(backend)` from
 * `@deepfs/openai-agents` gives an `Agent` the deepagents tools (ls, read_file, write_file,
 * edit_file, glob, grep) as strict function tools, over a `CompositeBackend` of embedded defaults,
 * so it needs no server and no API key:
 *
 * | path            | backend                               |
 * |-----------------|---------------------------------------|
 * | `/` (default)   | `StateBackend` (in memory, scratch)   |
 * | `/project/`     | `LocalBackend` on a temp directory    |
 * | `/memories/`    | `PostgresBackend.embedded()` (PGlite) |
 * | `/reference/`   | the project again, read-only          |
 *
 * `run(agent, input)` drives a scripted offline `Model` (the SDK's interface: `getResponse`,
 * `getStreamedResponse`): it writes a project file and a memory, edits and reads the file, globs
 * every backend at once, and tries to edit the read-only view, which the tool answers with an error
 * the model sees (nothing is thrown). Give the agent a real model name instead and keep the rest.
 */
import { createFileTools } from "@deepfs/openai-agents";
import {
  Agent,
  type Model,
  type ModelRequest,
  type ModelResponse,
  run,
  setTracingDisabled,
  Usage,
} from "@openai/agents";
import { openNotesWorkspace } from "./lib/notes-workspace.js";
import { runIfMain } from "./lib/run-main.js";

/** The function calls of the scripted model, one turn each. */
const SCRIPT: Array<{ name: string; args: Record<string, unknown> }> = [
  {
    name: "write_file",
    args: { file_path: "/project/notes.md", content: "# Notes\nTODO: try deepfs with OpenAI Agents\n" },
  },
  { name: "edit_file", args: { file_path: "/project/notes.md", old_string: "TODO: try", new_string: "Tried" } },
  { name: "write_file", args: { file_path: "/memories/user.md", content: "prefers short answers\n" } },
  { name: "read_file", args: { file_path: "/project/notes.md" } },
  { name: "glob", args: { pattern: "**/*.md" } },
  { name: "edit_file", args: { file_path: "/reference/notes.md", old_string: "Tried", new_string: "Skipped" } },
];

/** The text of the last function call output the runner sent the model. */
function lastOutput(request: ModelRequest): string {
  if (typeof request.input === "string") return "";
  const item = request.input.findLast((i) => i.type === "function_call_result");
  if (item?.type !== "function_call_result") return "";
  return typeof item.output === "string" ? item.output : "text" in item.output ? item.output.text : "";
}

/** An offline model: one scripted function call per turn, then a last answer quoting the last tool output. */
function scriptedModel(): Model {
  let turn = 0;
  return {
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      const call = SCRIPT[turn];
      turn++;
      const usage = new Usage({ requests: 1, inputTokens: 1, outputTokens: 1, totalTokens: 2 });
      if (call) {
        const item = {
          type: "function_call" as const,
          callId: `call-${turn}`,
          name: call.name,
          arguments: JSON.stringify(call.args),
        };
        return { usage, output: [{ ...item, status: "completed" }] };
      }
      const text = `Done. The read-only view refused the edit: ${lastOutput(request)}`;
      return {
        usage,
        output: [{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text }] }],
      };
    },
    getStreamedResponse(): AsyncIterable<never> {
      throw new Error("the scripted model does not stream");
    },
  };
}

/** What {@link main} returns. */
export interface OpenAiAgentsSummary {
  toolCalls: Array<{ name: string; result: string }>;
  answer: string;
  /** notes.md as it is on disk under the LocalBackend's root. */
  onDisk: string;
}

export async function main(): Promise<OpenAiAgentsSummary> {
  // Offline: no trace export.
  setTracingDisabled(true);
  const workspace = await openNotesWorkspace("openai-agents");
  const { backend } = workspace;
  try {
    const agent = new Agent({
      name: "notes",
      instructions: "You keep the user's notes in /project/ and what you learn about them in /memories/.",
      model: scriptedModel(),
      tools: createFileTools(backend),
    });
    const result = await run(agent, "Note that I tried deepfs, remember that I like short answers.", {
      maxTurns: SCRIPT.length + 1,
    });
    const toolCalls = result.newItems.flatMap((item) =>
      item.type === "tool_call_output_item" && item.rawItem.type === "function_call_result"
        ? [{ name: item.rawItem.name, result: String(item.output) }]
        : [],
    );
    return {
      toolCalls,
      answer: String(result.finalOutput),
      onDisk: workspace.notesOnDisk(),
    };
  } finally {
    await workspace.close();
  }
}

runIfMain(import.meta.url, main);
