import type { Agent } from "@mastra/core/agent";
import { MockLanguageModelV4 } from "ai/test";

/**
 * The model type an `Agent` takes. Mastra 1.71 bundles `@ai-sdk/provider` 4.0.17 and `ai` 7.0.185
 * uses 4.0.39, whose declarations differ in details; at run time Mastra drives the mock through
 * `doGenerate` like any AI SDK 7 model.
 */
type AgentModel = ConstructorParameters<typeof Agent>[0]["model"];

type CallOptions = Parameters<MockLanguageModelV4["doGenerate"]>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4["doGenerate"]>>;

/** One tool call the scripted model makes. */
export interface ScriptedCall {
  toolName: string;
  input: Record<string, unknown>;
}

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/**
 * An offline AI SDK model for a Mastra `Agent` (Mastra 1.71 drives an AI SDK 7 model through
 * `doGenerate`): it makes the given tool calls, one step each, then answers "done". It keeps the
 * tool results the agent sent back, the text the model sees (error text included), by tool call id
 * `call-<step>-<index>`.
 */
export function scriptedModel(steps: ScriptedCall[][]) {
  const results = new Map<string, string>();
  let step = 0;
  const model = new MockLanguageModelV4({
    doGenerate: async (options: CallOptions): Promise<GenerateResult> => {
      for (const message of options.prompt) {
        if (message.role !== "tool") continue;
        for (const part of message.content) {
          if (part.type !== "tool-result") continue;
          const output = part.output;
          results.set(part.toolCallId, "value" in output ? String(output.value) : output.type);
        }
      }
      const calls = steps[step];
      const base = step;
      step++;
      if (!calls) {
        return {
          content: [{ type: "text", text: "done" }],
          finishReason: { unified: "stop", raw: "stop" },
          usage,
          warnings: [],
        };
      }
      return {
        content: calls.map((call, i) => ({
          type: "tool-call" as const,
          toolCallId: `call-${base}-${i}`,
          toolName: call.toolName,
          input: JSON.stringify(call.input),
        })),
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage,
        warnings: [],
      };
    },
  });
  /** The results of `steps`, in call order. */
  const resultsInOrder = () => steps.flatMap((calls, s) => calls.map((_, i) => results.get(`call-${s}-${i}`)));
  return { model: model as unknown as AgentModel, results, resultsInOrder, maxSteps: steps.length + 1 };
}
