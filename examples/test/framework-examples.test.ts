// The adapter examples (ai-sdk.ts, openai-agents.ts, mastra.ts): each runs its framework's own loop with a
// scripted offline model over a CompositeBackend of embedded defaults (PGlite included, no server).
import { describe, expect, it } from "vitest";
import { main as aiSdk } from "../ai-sdk.js";
import { main as mastra } from "../mastra.js";
import { main as openAiAgents } from "../openai-agents.js";

describe("ai-sdk.ts", () => {
  it("generateText calls the deepfs tools; the read-only view answers an error the model sees", async () => {
    const summary = await aiSdk();
    expect(summary.toolCalls.map((c) => c.name)).toEqual([
      "write_file",
      "write_file",
      "read_file",
      "grep",
      "write_file",
    ]);
    expect(summary.toolCalls[2]?.result).toBe("@@ lines 1-2 of 2 @@\n# Notes\nTODO: try deepfs with the AI SDK");
    expect(summary.toolCalls[3]?.result).toBe("/project/notes.md\n/reference/notes.md");
    expect(summary.toolCalls[4]?.result).toMatch(/^Error: .*\/reference\/notes\.md.*\[read_only\]$/);
    expect(summary.answer).toBe(`Done. The read-only view refused the write: ${summary.toolCalls[4]?.result}`);
    expect(summary.onDisk).toBe("# Notes\nTODO: try deepfs with the AI SDK\n");
  });
});

describe("openai-agents.ts", () => {
  it("run(agent) calls the deepfs tools; the read-only view answers an error the model sees", async () => {
    const summary = await openAiAgents();
    expect(summary.toolCalls.map((c) => c.name)).toEqual([
      "write_file",
      "edit_file",
      "write_file",
      "read_file",
      "glob",
      "edit_file",
    ]);
    expect(summary.toolCalls[1]?.result).toBe("Successfully replaced 1 occurrence(s) in '/project/notes.md'");
    expect(summary.toolCalls[3]?.result).toBe("@@ lines 1-2 of 2 @@\n# Notes\nTried deepfs with OpenAI Agents");
    expect(summary.toolCalls[4]?.result).toBe("/memories/user.md\n/project/notes.md\n/reference/notes.md");
    expect(summary.toolCalls[5]?.result).toMatch(/^Error: .*\/reference\/notes\.md.*\[read_only\]$/);
    expect(summary.answer).toBe(`Done. The read-only view refused the edit: ${summary.toolCalls[5]?.result}`);
    expect(summary.onDisk).toBe("# Notes\nTried deepfs with OpenAI Agents\n");
  });
});

describe("mastra.ts", () => {
  it("a Mastra Agent works on a DeepfsFilesystem workspace; the read-only view answers an error the model sees", async () => {
    const summary = await mastra();
    expect(summary.toolCalls.map((c) => c.name)).toEqual([
      "mastra_workspace_write_file",
      "mastra_workspace_write_file",
      "mastra_workspace_read_file",
      "mastra_workspace_grep",
      "mastra_workspace_write_file",
    ]);
    expect(summary.toolCalls[0]?.result).toBe("Wrote 37 bytes to project/notes.md");
    expect(summary.toolCalls[2]?.result).toBe(
      "/project/notes.md (37 bytes)\n     1→# Notes\n     2→TODO: try deepfs with Mastra\n     3→",
    );
    expect(summary.toolCalls[3]?.result).toBe(
      "2 matches across 2 files\n---\n./project/notes.md:2:11: TODO: try deepfs with Mastra\n./reference/notes.md:2:11: TODO: try deepfs with Mastra",
    );
    expect(summary.toolCalls[4]?.result).toBe("Permission denied: write (read-only) on reference/notes.md");
    expect(summary.answer).toBe(`Done. The read-only view refused the write: ${summary.toolCalls[4]?.result}`);
    expect(summary.onDisk).toBe("# Notes\nTODO: try deepfs with Mastra\n");
  });
});
