import { MockLanguageModelV4 } from "ai/test";

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
 * An offline model that makes the given tool calls, one step each, then answers "done". It keeps
 * what the SDK sent it: the tool names offered and the tool results it received (the text the
 * model sees, as the SDK puts it in the prompt).
 */
export function scriptedModel(steps: ScriptedCall[][]) {
  const seen = { toolNames: [] as string[][], results: new Map<string, string>() };
  let step = 0;
  const model = new MockLanguageModelV4({
    doGenerate: async (options: CallOptions): Promise<GenerateResult> => {
      seen.toolNames.push((options.tools ?? []).map((t) => t.name));
      for (const message of options.prompt) {
        if (message.role !== "tool") continue;
        for (const part of message.content) {
          if (part.type !== "tool-result") continue;
          const output = part.output;
          seen.results.set(part.toolCallId, "value" in output ? String(output.value) : output.type);
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
  return { model, seen, steps: steps.length + 1 };
}
