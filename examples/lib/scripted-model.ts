import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";

/** A tool call the scripted model makes. */
export interface ScriptedCall {
  name: string;
  args: Record<string, unknown>;
}

/**
 * One step of a script: a fixed tool call, or a function of the conversation so far that returns
 * the next call, or null to skip the step (this is how a script reacts to what the tools returned).
 */
export type ScriptStep = ScriptedCall | ((messages: BaseMessage[]) => ScriptedCall | null);

/**
 * An offline tool-calling chat model for `createDeepAgent`: each turn makes the next step's tool
 * call, and after the last step it answers `finalAnswer`. Built on `fakeModel()` from
 * `@langchain/core/testing`, as `@deepfs/conformance/agent` is.
 */
export function scriptedModel(steps: ScriptStep[], finalAnswer: string): BaseChatModel {
  const model = fakeModel();
  let next = 0;
  let callId = 0;
  const turn = (messages: BaseMessage[]): BaseMessage => {
    while (next < steps.length) {
      const step = steps[next++] as ScriptStep;
      const call = typeof step === "function" ? step(messages) : step;
      if (call)
        return new AIMessage({ content: "", tool_calls: [{ ...call, id: `call_${callId++}`, type: "tool_call" }] });
    }
    return new AIMessage(finalAnswer);
  };
  // One queued response per model turn; turns a skipped step saves are never consumed.
  for (let i = 0; i <= steps.length; i++) model.respond(turn);
  return model;
}

/** The text of a message (text blocks joined). */
export function textOf(message: BaseMessage): string {
  if (typeof message.content === "string") return message.content;
  return message.content.map((block) => ("text" in block && typeof block.text === "string" ? block.text : "")).join("");
}

/** The last tool result in the conversation, if any. */
export function lastToolResult(messages: BaseMessage[]): ToolMessage | undefined {
  return messages.filter(ToolMessage.isInstance).at(-1);
}

/** Every tool call of a finished conversation with the text of its result, in order. */
export function toolCallsOf(messages: BaseMessage[]): Array<ScriptedCall & { result: string }> {
  const results = new Map<string, string>();
  for (const m of messages) if (ToolMessage.isInstance(m)) results.set(m.tool_call_id, textOf(m));
  const calls: Array<ScriptedCall & { result: string }> = [];
  for (const m of messages) {
    if (!AIMessage.isInstance(m)) continue;
    for (const call of m.tool_calls ?? []) {
      calls.push({ name: call.name, args: call.args, result: (call.id && results.get(call.id)) ?? "" });
    }
  }
  return calls;
}
