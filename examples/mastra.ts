/**
 * A deepfs backend as a Mastra workspace filesystem: `new DeepfsFilesystem({ backend })` from
 * `@deepfs/mastra` goes into a Mastra `Workspace`, and a Mastra `Agent` with that workspace works on
 * the files with Mastra's own workspace tools (`mastra_workspace_write_file`, `..._read_file`,
 * `..._grep`, ...). The backend is a `CompositeBackend` of embedded defaults, so it needs no server
 * and no API key:
 *
 * | path            | backend                               |
 * |-----------------|---------------------------------------|
 * | `/` (default)   | `StateBackend` (in memory, scratch)   |
 * | `/project/`     | `LocalBackend` on a temp directory    |
 * | `/memories/`    | `PostgresBackend.embedded()` (PGlite) |
 * | `/reference/`   | the project again, read-only          |
 *
 * The model is the AI SDK's own `MockLanguageModelV4`, scripted offline (Mastra 1.71 takes AI SDK 7
 * models): it writes a project file and a memory, reads the file back, greps the workspace, and
 * tries to change the read-only view, which Mastra answers with a `PermissionError` the model sees.
 * Swap in a real model (`"openai/gpt-5"`, ...) and keep the rest.
 */
import { DeepfsFilesystem } from "@deepfs/mastra";
import { Agent } from "@mastra/core/agent";
import { Workspace } from "@mastra/core/workspace";
import { MockLanguageModelV4 } from "ai/test";
import { openNotesWorkspace } from "./lib/notes-workspace.js";
import { runIfMain } from "./lib/run-main.js";

type CallOptions = Parameters<MockLanguageModelV4["doGenerate"]>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4["doGenerate"]>>;
/** Mastra bundles an older `@ai-sdk/provider` 4.0.x whose declarations differ in details from `ai`'s. */
type AgentModel = ConstructorParameters<typeof Agent>[0]["model"];

/** The tool calls of the scripted model, one step each (paths relative to the workspace root). */
const SCRIPT: Array<{ toolName: string; input: Record<string, unknown> }> = [
  {
    toolName: "mastra_workspace_write_file",
    input: { path: "project/notes.md", content: "# Notes\nTODO: try deepfs with Mastra\n" },
  },
  { toolName: "mastra_workspace_write_file", input: { path: "memories/user.md", content: "prefers short answers\n" } },
  { toolName: "mastra_workspace_read_file", input: { path: "project/notes.md" } },
  { toolName: "mastra_workspace_grep", input: { pattern: "deepfs" } },
  { toolName: "mastra_workspace_write_file", input: { path: "reference/notes.md", content: "overwritten" } },
];

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/**
 * An offline model: one scripted tool call per step, then a last answer quoting the last tool
 * result. `seen` collects every tool result the agent sent back, as the model sees it.
 */
function scriptedModel(seen: Array<{ name: string; result: string }>): AgentModel {
  let step = 0;
  const model = new MockLanguageModelV4({
    doGenerate: async (options: CallOptions): Promise<GenerateResult> => {
      const last = options.prompt.at(-1);
      const part = last?.role === "tool" ? last.content[0] : undefined;
      const result = part?.type === "tool-result" && "value" in part.output ? String(part.output.value) : "";
      if (part?.type === "tool-result") seen.push({ name: part.toolName, result });
      const call = SCRIPT[step];
      step++;
      if (call) {
        const content = [
          {
            type: "tool-call" as const,
            toolCallId: `call-${step}`,
            toolName: call.toolName,
            input: JSON.stringify(call.input),
          },
        ];
        return { content, finishReason: { unified: "tool-calls", raw: "tool_calls" }, usage, warnings: [] };
      }
      const text = `Done. The read-only view refused the write: ${result}`;
      return { content: [{ type: "text", text }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] };
    },
  });
  return model as unknown as AgentModel;
}

/** What {@link main} returns. */
export interface MastraSummary {
  toolCalls: Array<{ name: string; result: string }>;
  answer: string;
  /** notes.md as it is on disk under the LocalBackend's root. */
  onDisk: string;
}

export async function main(): Promise<MastraSummary> {
  const notes = await openNotesWorkspace("mastra");
  const { backend } = notes;
  try {
    const workspace = new Workspace({ filesystem: new DeepfsFilesystem({ backend }) });
    await workspace.init();
    const toolCalls: MastraSummary["toolCalls"] = [];
    const agent = new Agent({
      id: "notes",
      name: "notes",
      instructions: "Keep notes in the workspace.",
      model: scriptedModel(toolCalls),
      workspace,
    });
    const output = await agent.generate(
      "Note that I want to try deepfs, remember that I like short answers, then check your notes.",
      { maxSteps: SCRIPT.length + 1 },
    );
    await workspace.destroy();
    return { toolCalls, answer: output.text, onDisk: notes.notesOnDisk() };
  } finally {
    await notes.close();
  }
}

runIfMain(import.meta.url, main);
