import type { BackendProtocol } from "@deepfs/core";
import { checkPath, joinPath, utf8ByteLength } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { createDeepAgent } from "deepagents";

/** Options of {@link runAgentScenario}. */
export interface AgentScenarioOptions {
  /** Absolute directory the agent works in (default `/`). */
  root?: string;
}

/** Paths and texts the scenario uses, so that callers can assert on what the backend stored. */
export interface AgentScenarioFiles {
  /** The file the agent writes, reads and edits: `<root>/notes/todo.md`. */
  todo: string;
  /** A second file, found by glob and grep: `<root>/src/app.py`. */
  app: string;
  /** Content of `todo` as written (three lines, final newline). */
  todoWritten: string;
  /** Content of `todo` after the edit. */
  todoEdited: string;
  /** Content of `app`. */
  appContent: string;
  /** The literal that grep searches for (present in `app` only, on line 2). */
  grepNeedle: string;
}

/** One tool result the agent received, with its content flattened to text. */
export interface AgentToolResult {
  /** Tool name: `write_file`, `read_file`, `edit_file`, `ls`, `glob` or `grep`. */
  name: string;
  toolCallId: string;
  text: string;
}

/** What {@link runAgentScenario} observed; it asserts nothing itself. */
export interface AgentScenarioResult {
  files: AgentScenarioFiles;
  /** Tool results in the order the agent received them. */
  toolResults: AgentToolResult[];
  /** The first result of each tool, by name. */
  byTool: Record<string, AgentToolResult>;
  /** Every message of the final agent state. */
  messages: BaseMessage[];
}

/**
 * The tool results a correct backend produces for the scenario, in order, as deepagents 1.14
 * renders them (read_file shows the raw lines under a range header: no line numbers from the
 * backend). Backend packages compare `toolResults` with this.
 */
export function expectedToolResults(files: AgentScenarioFiles): Array<{ name: string; text: string }> {
  const todoLines = files.todoWritten.slice(0, -1);
  return [
    { name: "write_file", text: `Successfully wrote to '${files.todo}'` },
    { name: "write_file", text: `Successfully wrote to '${files.app}'` },
    { name: "read_file", text: `@@ lines 1-3 of 3 @@\n${todoLines}` },
    { name: "edit_file", text: `Successfully replaced 1 occurrence(s) in '${files.todo}'` },
    { name: "ls", text: `${files.todo} (${utf8ByteLength(files.todoEdited)} bytes)` },
    { name: "glob", text: files.app },
    { name: "grep", text: `${files.app}:\n  2:     print("${files.grepNeedle}")` },
  ];
}

/** The agent's script: one model turn per entry, each calling one tool, then a final answer. */
function scriptFor(files: AgentScenarioFiles, root: string) {
  return [
    { name: "write_file", args: { file_path: files.todo, content: files.todoWritten } },
    { name: "write_file", args: { file_path: files.app, content: files.appContent } },
    { name: "read_file", args: { file_path: files.todo } },
    { name: "edit_file", args: { file_path: files.todo, old_string: "- [ ] review", new_string: "- [x] review" } },
    { name: "ls", args: { path: joinPath(root, "notes") } },
    { name: "glob", args: { pattern: "**/*.py", path: root } },
    { name: "grep", args: { pattern: files.grepNeedle, path: root } },
  ];
}

function textOf(message: ToolMessage): string {
  if (typeof message.content === "string") return message.content;
  return message.content
    .map((block) => ("text" in block && typeof block.text === "string" ? block.text : JSON.stringify(block)))
    .join("");
}

/**
 * Runs a real deep agent (`createDeepAgent` from `deepagents`) with a scripted, offline model on
 * `backend`: it writes two files under `root`, reads one, edits it, then calls `ls`, `glob` and
 * `grep`, and stops. Returns the tool results the agent received for the caller to assert on.
 *
 * Needs the optional peer dependencies `deepagents`, `@langchain/core`, `@langchain/langgraph`
 * and `langchain`.
 */
export async function runAgentScenario(
  backend: BackendProtocol,
  options: AgentScenarioOptions = {},
): Promise<AgentScenarioResult> {
  const checked = checkPath(options.root ?? "/");
  if (!checked.ok) throw new TypeError(checked.error);
  const root = checked.path;
  const files: AgentScenarioFiles = {
    todo: joinPath(root, "notes/todo.md"),
    app: joinPath(root, "src/app.py"),
    todoWritten: "# Plan\n- [ ] review\n- [ ] ship it\n",
    todoEdited: "# Plan\n- [x] review\n- [ ] ship it\n",
    appContent: 'def main():\n    print("deepfs-agent-needle")\n',
    grepNeedle: "deepfs-agent-needle",
  };
  const model = fakeModel();
  scriptFor(files, root).forEach((call, i) => {
    model.respondWithTools([{ ...call, id: `call_${i}_${call.name}` }]);
  });
  model.respond(new AIMessage("All done."));
  const agent = createDeepAgent({ model, backend });
  const state = await agent.invoke(
    { messages: [new HumanMessage(`Plan the work in ${files.todo}, then look around ${root}.`)] },
    { recursionLimit: 50 },
  );
  const messages = state.messages as BaseMessage[];
  const toolResults = messages
    .filter(ToolMessage.isInstance)
    .map((m) => ({ name: m.name ?? "", toolCallId: m.tool_call_id, text: textOf(m) }));
  const byTool: Record<string, AgentToolResult> = {};
  for (const result of toolResults) byTool[result.name] ??= result;
  return { files, toolResults, byTool, messages };
}
