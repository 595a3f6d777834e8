// An offline AI SDK 7 language model for tests of AI SDK integrations (@deepfs/ai-sdk, @deepfs/mastra).
import { MockLanguageModelV4 } from "ai/test";

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** The tool call id of the `index`-th call of step `step`. */
export function scriptedCallId(step, index) {
  return `call-${step}-${index}`;
}

export function scriptedModel(steps) {
  const seen = { toolNames: [], results: new Map() };
  let step = 0;
  const model = new MockLanguageModelV4({
    doGenerate: async (options) => {
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
          type: "tool-call",
          toolCallId: scriptedCallId(base, i),
          toolName: call.toolName,
          input: JSON.stringify(call.input),
        })),
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage,
        warnings: [],
      };
    },
  });
  const resultsInOrder = () => steps.flatMap((calls, s) => calls.map((_, i) => seen.results.get(scriptedCallId(s, i))));
  return { model, seen, resultsInOrder, maxSteps: steps.length + 1 };
}
