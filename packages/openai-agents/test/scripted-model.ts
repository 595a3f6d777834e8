import { type Model, type ModelRequest, type ModelResponse, Usage } from "@openai/agents";

/** One tool call the scripted model makes. */
export interface ScriptedCall {
  toolName: string;
  input: Record<string, unknown>;
}

/**
 * An offline `Model` for `run(agent, input)`: it makes the given function calls, one turn each, then
 * answers "done". It keeps what the runner sent it: the tools offered (name, strict flag, JSON
 * schema) and each function call's output as the model receives it.
 */
export function scriptedModel(steps: ScriptedCall[][]) {
  const seen = {
    tools: [] as Array<Array<{ name: string; strict?: boolean; parameters?: unknown }>>,
    results: new Map<string, string>(),
  };
  let turn = 0;
  const model: Model = {
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      seen.tools.push(
        request.tools.flatMap((t) =>
          t.type === "function" ? [{ name: t.name, strict: t.strict, parameters: t.parameters }] : [],
        ),
      );
      if (typeof request.input !== "string") {
        for (const item of request.input) {
          if (item.type !== "function_call_result") continue;
          const output = item.output;
          seen.results.set(
            item.callId,
            typeof output === "string" ? output : "text" in output ? output.text : JSON.stringify(output),
          );
        }
      }
      const calls = steps[turn];
      const base = turn;
      turn++;
      const usage = new Usage({ requests: 1, inputTokens: 1, outputTokens: 1, totalTokens: 2 });
      if (!calls) {
        return {
          usage,
          output: [
            {
              type: "message",
              role: "assistant",
              status: "completed",
              content: [{ type: "output_text", text: "done" }],
            },
          ],
        };
      }
      return {
        usage,
        output: calls.map((call, i) => ({
          type: "function_call" as const,
          callId: `call-${base}-${i}`,
          name: call.toolName,
          arguments: JSON.stringify(call.input),
          status: "completed" as const,
        })),
      };
    },
    getStreamedResponse(): AsyncIterable<never> {
      throw new Error("the scripted model does not stream");
    },
  };
  return { model, seen };
}
