// A real deep agent (createDeepAgent, a scripted offline model, a checkpointer) whose StateBackend
// keeps history inside the run, in the thread's deepfs_history channel added by deepfsHistory():
// the agent edits a file in one invoke, and in the next looks at the history and undoes the edit
// with the history tools, as an agent that sees its own changes would.
import { type FileData, fileDataToString, StateBackend, type StateHistory } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { MemorySaver } from "@langchain/langgraph";
import { createDeepAgent } from "deepagents";
import { describe, expect, it } from "vitest";
import { deepfsHistory } from "../src/history-middleware.js";
import { historyTools } from "../src/history-tools.js";

const AGENT_TIMEOUT = 60_000;

function lastToolText(messages: BaseMessage[]): string {
  const last = messages.findLast(ToolMessage.isInstance);
  return typeof last?.content === "string" ? last.content : JSON.stringify(last?.content);
}

function toolTexts(messages: BaseMessage[]): string[] {
  const prompt = messages.findLastIndex(HumanMessage.isInstance);
  return messages
    .slice(prompt + 1)
    .filter(ToolMessage.isInstance)
    .map((m) => String(m.content));
}

/** A deep agent whose StateBackend keeps history in the run, with the history tools and a checkpointer. */
function historyAgent(model: ReturnType<typeof fakeModel>, backend: StateBackend) {
  return createDeepAgent({
    model,
    backend,
    middleware: [deepfsHistory()],
    tools: historyTools(backend),
    checkpointer: new MemorySaver(),
  });
}

type Values = { files?: Record<string, FileData>; deepfs_history?: StateHistory };

/** The saved state of a thread (the checkpointer's copy). */
async function stateOf(agent: unknown, thread: string): Promise<Values> {
  const graph = agent as { getState(config: unknown): Promise<{ values: Values }> };
  return (await graph.getState({ configurable: { thread_id: thread } })).values;
}

describe("StateBackend history inside a deep agent's run (deepfsHistory middleware)", () => {
  it(
    "an agent edits a file, then reads its history and undoes the edit in a later invoke of the thread",
    async () => {
      const backend = new StateBackend({ history: true });
      const model = fakeModel();
      // Invoke 1: write, then a bad edit.
      model.respondWithTools([{ name: "write_file", args: { file_path: "/plan.md", content: "1. read the code\n" } }]);
      model.respondWithTools([
        { name: "edit_file", args: { file_path: "/plan.md", old_string: "read the code", new_string: "delete it" } },
      ]);
      model.respond(new AIMessage("Done."));
      // Invoke 2: list the history, then restore the version written first (its id is read from the list).
      model.respondWithTools([{ name: "file_history", args: { file_path: "/plan.md" } }]);
      model.respond((messages: BaseMessage[]) => {
        const line = lastToolText(messages)
          .split("\n")
          .find((l) => l.split("\t")[1] === "write");
        const version = line?.split("\t")[0] ?? "none";
        return new AIMessage({
          content: "",
          tool_calls: [{ id: "call_restore", name: "restore_file", args: { file_path: "/plan.md", version } }],
        });
      });
      model.respond(new AIMessage("Undone."));

      const agent = historyAgent(model, backend);
      const config = { recursionLimit: 30, configurable: { thread_id: "h1" } };
      const first = await agent.invoke({ messages: [new HumanMessage("Plan.")] }, config);
      expect(toolTexts(first.messages as BaseMessage[])).toEqual([
        "Successfully wrote to '/plan.md'",
        "Successfully replaced 1 occurrence(s) in '/plan.md'",
      ]);
      const second = await agent.invoke({ messages: [new HumanMessage("Undo that edit.")] }, config);
      const [listed, restored] = toolTexts(second.messages as BaseMessage[]);
      expect(listed).toMatch(/^Versions of '\/plan\.md', newest first/);
      expect(
        listed
          ?.split("\n")
          .slice(1)
          .map((l) => l.split("\t")[1]),
      ).toEqual(["edit", "write"]);
      expect(restored).toMatch(/Restored '\/plan\.md'/);

      const state = second as unknown as { files: Record<string, FileData>; deepfs_history: StateHistory };
      expect(fileDataToString(state.files["/plan.md"] as FileData)).toBe("1. read the code\n");
      expect(Object.keys(state.files), "versions are not files").toEqual(["/plan.md"]);
      expect(state.deepfs_history.versions.map((v) => v.op)).toEqual(["write", "edit", "restore"]);
      expect(backend.files, "nothing is kept in the object, shared by every thread").toEqual({});

      // The checkpoint holds the history: the thread's saved state has it, another thread has none.
      const saved = await stateOf(agent, "h1");
      expect(saved.deepfs_history?.versions).toHaveLength(3);
      expect((await stateOf(agent, "h2")).deepfs_history?.versions ?? []).toEqual([]);
    },
    AGENT_TIMEOUT,
  );

  it(
    "a subagent's file (written without the channel) comes back and is versioned before the parent edits it",
    async () => {
      const backend = new StateBackend({ history: true });
      const model = fakeModel();
      model.respondWithTools([
        { name: "task", args: { description: "Write the notes.", subagent_type: "general-purpose" } },
      ]);
      // The subagent's own turns (it shares the scripted model).
      model.respondWithTools([{ name: "write_file", args: { file_path: "/notes.md", content: "by the subagent\n" } }]);
      model.respond(new AIMessage("Wrote the notes."));
      model.respondWithTools([
        { name: "edit_file", args: { file_path: "/notes.md", old_string: "by the subagent", new_string: "edited" } },
      ]);
      model.respondWithTools([{ name: "file_history", args: { file_path: "/notes.md" } }]);
      model.respond(new AIMessage("Done."));
      const agent = historyAgent(model, backend);
      const result = await agent.invoke(
        { messages: [new HumanMessage("Notes.")] },
        { recursionLimit: 30, configurable: { thread_id: "sub" } },
      );
      const texts = toolTexts(result.messages as BaseMessage[]);
      expect(texts[0]).toContain("Wrote the notes.");
      expect(texts[1]).toBe("Successfully replaced 1 occurrence(s) in '/notes.md'");
      expect(
        texts[2]
          ?.split("\n")
          .slice(1)
          .map((l) => l.split("\t")[1]),
      ).toEqual(["edit", "write"]);
      const values = await stateOf(agent, "sub");
      expect(fileDataToString(values.files?.["/notes.md"] as FileData)).toBe("edited\n");
    },
    AGENT_TIMEOUT,
  );
});
