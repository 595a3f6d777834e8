import { type BackendProtocol, StateBackend } from "@deepfs/core";
import { createFilesystemMiddleware, StateBackend as ReferenceStateBackend } from "deepagents";
import { describe, expect, it } from "vitest";
import { INVALID_UTF8 } from "../src/encoding.js";

type Tool = { name: string; invoke(input: Record<string, unknown>): Promise<unknown> };

/** deepagents' own read_file tool on `backend`, as a deep agent calls it. */
function readFileTool(backend: unknown): Tool {
  const middleware = createFilesystemMiddleware({ backend: backend as BackendProtocol }) as unknown as {
    tools: Tool[];
  };
  const tool = middleware.tools.find((t) => t.name === "read_file");
  if (!tool) throw new Error("deepagents has no read_file tool");
  return tool;
}

/** What the tool shows the model, flattened to text. */
async function shown(tool: Tool, input: Record<string, unknown>): Promise<string> {
  const result = await tool.invoke(input);
  if (typeof result === "string") return result;
  return (result as Array<{ type: string; text?: string }>).map((block) => block.text ?? `[${block.type}]`).join("");
}

/** deepagents' StateBackend over the given texts (its state, as the agent graph would hold it). */
function reference(files: Record<string, string>): unknown {
  const state = Object.fromEntries(
    Object.entries(files).map(([path, content]) => [
      path,
      { content, mimeType: "text/plain", created_at: "", modified_at: "" },
    ]),
  );
  return new ReferenceStateBackend({ state: { files: state } } as never);
}

describe("deepagents' read_file tool on a deepfs backend", () => {
  it("shows an empty file exactly as on deepagents' own StateBackend, not as an empty '@@  @@' header", async () => {
    const backend = new StateBackend();
    await backend.write("/empty.txt", "");
    const ours = await shown(readFileTool(backend), { file_path: "/empty.txt" });
    const theirs = await shown(readFileTool(reference({ "/empty.txt": "" })), { file_path: "/empty.txt" });
    expect(ours).toBe(theirs);
    expect(ours).not.toContain("@@  @@");
  });

  it("shows the text of a file that is not valid UTF-8, with U+FFFD, never an empty file", async () => {
    const backend = new StateBackend();
    await backend.uploadFiles([["/x.txt", INVALID_UTF8]]);
    const text = await shown(readFileTool(backend), { file_path: "/x.txt" });
    expect(text).toBe("@@ lines 1-3 of 3 @@\ncaf\uFFFD menu\nline two \uFFFD here\nend \uFFFD");
  });
});
