/**
 * deepfs file tools in the Vercel AI SDK: `createFileTools(backend)` from `@deepfs/ai-sdk` gives
 * `generateText` the deepagents tools (ls, read_file, write_file, edit_file, glob, grep) over a
 * `CompositeBackend` of embedded defaults, so it needs no server and no API key:
 *
 * | path            | backend                               |
 * |-----------------|---------------------------------------|
 * | `/` (default)   | `StateBackend` (in memory, scratch)   |
 * | `/project/`     | `LocalBackend` on a temp directory    |
 * | `/memories/`    | `PostgresBackend.embedded()` (PGlite) |
 * | `/reference/`   | the project again, read-only          |
 *
 * The model is the AI SDK's own `MockLanguageModelV4`, scripted offline: it writes a project file
 * and a memory, reads the file back, greps every backend at once, and tries to change the read-only
 * view, which the tool answers with an error the model sees (nothing is thrown). Swap in a real
 * model (`openai("gpt-5")`, ...) and keep the rest.
 */
import { createFileTools } from "@deepfs/ai-sdk";
import { generateText, stepCountIs } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { openNotesWorkspace } from "./lib/notes-workspace.js";
import { runIfMain } from "./lib/run-main.js";

type CallOptions = Parameters<MockLanguageModelV4["doGenerate"]>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4["doGenerate"]>>;

/** The tool calls of the scripted model, one step each. */
const SCRIPT: Array<{ toolName: string; input: Record<string, unknown> }> = [
  {
    toolName: "write_file",
    input: { file_path: "/project/notes.md", content: "# Notes\nTODO: try deepfs with the AI SDK\n" },
  },
  { toolName: "write_file", input: { file_path: "/memories/user.md", content: "prefers short answers\n" } },
  { toolName: "read_file", input: { file_path: "/project/notes.md" } },
  { toolName: "grep", input: { pattern: "deepfs", output_mode: "files_with_matches" } },
  { toolName: "write_file", input: { file_path: "/reference/notes.md", content: "overwritten" } },
];

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** An offline model: one scripted tool call per step, then a last answer quoting the last tool result. */
function scriptedModel() {
  let step = 0;
  return new MockLanguageModelV4({
    doGenerate: async (options: CallOptions): Promise<GenerateResult> => {
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
      const last = options.prompt.at(-1);
      const part = last?.role === "tool" ? last.content[0] : undefined;
      const seen = part?.type === "tool-result" && part.output.type === "text" ? part.output.value : "";
      const text = `Done. The read-only view refused the write: ${seen}`;
      return { content: [{ type: "text", text }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] };
    },
  });
}

/** What {@link main} returns. */
export interface AiSdkSummary {
  toolCalls: Array<{ name: string; result: string }>;
  answer: string;
  /** notes.md as it is on disk under the LocalBackend's root. */
  onDisk: string;
}

export async function main(): Promise<AiSdkSummary> {
  const workspace = await openNotesWorkspace("ai-sdk");
  const { backend } = workspace;
  try {
    const result = await generateText({
      model: scriptedModel(),
      tools: createFileTools(backend),
      stopWhen: stepCountIs(SCRIPT.length + 1),
      prompt: "Note that I want to try deepfs, remember that I like short answers, then check your notes.",
    });
    const toolCalls = result.steps.flatMap((step) =>
      step.toolResults.map((r) => ({ name: r.toolName, result: String(r.output) })),
    );
    return { toolCalls, answer: result.text, onDisk: workspace.notesOnDisk() };
  } finally {
    await workspace.close();
  }
}

runIfMain(import.meta.url, main);
