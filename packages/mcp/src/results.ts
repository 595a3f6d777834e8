import { DeepfsError, type ErrorCode, type ErrorFields } from "@deepfs/core";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** A successful tool result: text for the model, and the contract's result shape as structured content. */
export function success(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

/**
 * A failed tool result (`isError: true`): the sentence with its deepfs code for the model, and
 * `{ error, code }` (the contract's error fields) as structured content.
 */
export function failure(code: ErrorCode, message: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `Error [${code}]: ${message}` }],
    structuredContent: { error: message, code },
  };
}

/** The failure a backend result carries, if any. */
export function failureOf(result: ErrorFields): CallToolResult | undefined {
  if (!result.error) return undefined;
  return failure(result.code ?? "backend_unavailable", result.error);
}

/**
 * Runs a tool's work; anything it throws (a backend that broke the never-throw rule, a dropped
 * connection) becomes a failed tool result, so one bad call never takes the server down.
 */
export async function guarded(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (error) {
    if (DeepfsError.isInstance(error)) return failure(error.code, error.message);
    const message = error instanceof Error ? error.message : String(error);
    return failure("backend_unavailable", message.replace(/\s+/g, " ").trim());
  }
}
