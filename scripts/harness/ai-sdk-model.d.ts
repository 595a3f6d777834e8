import type { MockLanguageModelV4 } from "ai/test";

/** One tool call the scripted model makes. */
export interface ScriptedCall {
  toolName: string;
  input: Record<string, unknown>;
}

/** The tool call id of the `index`-th call of step `step`: `call-<step>-<index>`. */
export function scriptedCallId(step: number, index: number): string;

/**
 * An offline AI SDK 7 model (`MockLanguageModelV4` of `ai/test`) that makes the given tool calls, one
 * step each, then answers "done". It keeps what the SDK sent it: the tool names offered at each step
 * and the tool results it received by tool call id (the text the model sees, error text included, as
 * the SDK puts it in the prompt).
 */
export function scriptedModel(steps: ScriptedCall[][]): {
  model: MockLanguageModelV4;
  seen: { toolNames: string[][]; results: Map<string, string> };
  /** The results of `steps`' calls, in call order (undefined for a call the model never saw answered). */
  resultsInOrder: () => Array<string | undefined>;
  /** The steps the run needs: one per step of calls, plus the final answer. */
  maxSteps: number;
};
