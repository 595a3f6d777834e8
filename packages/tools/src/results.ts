import { DeepfsError, type ErrorFields } from "@deepfs/core";

/**
 * The text a failed call answers: deepagents' prefix (`Error: `, `Error listing files: `, ...), the
 * backend's sentence (it names the path, never file contents) and its deepfs code in brackets, so
 * the model can act on it and a caller can match it. Every failure text starts with `Error`.
 */
export function errorText(result: ErrorFields, prefix = "Error: "): string {
  const code = result.code ?? "backend_unavailable";
  return `${prefix}${result.error ?? "the call failed"} [${code}]`;
}

/**
 * Runs a tool's work and turns anything it throws (a backend that broke the never-throw rule, a
 * dropped connection) into error text, so a failure is shown to the model and never thrown into
 * the framework's loop.
 */
export async function guarded(work: () => Promise<string>): Promise<string> {
  try {
    return await work();
  } catch (error) {
    if (DeepfsError.isInstance(error)) return errorText({ error: error.message, code: error.code });
    const message = error instanceof Error ? error.message : String(error);
    return errorText({ error: message.replace(/\s+/g, " ").trim(), code: "backend_unavailable" });
  }
}
