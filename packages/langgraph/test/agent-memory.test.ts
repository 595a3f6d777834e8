import { randomUUID } from "node:crypto";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { type BaseStore, InMemoryStore, MemorySaver } from "@langchain/langgraph";
import { type BackendRuntime, createDeepAgent } from "deepagents";
import { describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";

const AGENT_TIMEOUT = 60_000;

type ToolCall = { name: string; args: Record<string, unknown> };

/** Runs a real deep agent with a scripted offline model on one thread; returns its tool results. */
async function runAgent(
  params: Omit<Parameters<typeof createDeepAgent>[0], "model">,
  calls: ToolCall[],
  configurable: Record<string, unknown>,
): Promise<string[]> {
  const model = fakeModel();
  calls.forEach((call, i) => {
    model.respondWithTools([{ ...call, id: `call_${i}_${call.name}` }]);
  });
  model.respond(new AIMessage("Done."));
  const agent = createDeepAgent({ model, ...params });
  const state = await agent.invoke(
    { messages: [new HumanMessage("Remember what matters.")] },
    // The user travels both in the run config (read by namespace functions) and in the runtime
    // context (read by backend factories).
    { recursionLimit: 30, configurable, context: { userId: configurable.user_id } },
  );
  return (state.messages as BaseMessage[]).filter(ToolMessage.isInstance).map(textOf);
}

function textOf(message: ToolMessage): string {
  if (typeof message.content === "string") return message.content;
  return message.content
    .map((block) => ("text" in block && typeof block.text === "string" ? block.text : JSON.stringify(block)))
    .join("");
}

/** A namespace per user, read from the run's `configurable.user_id`. */
const perUser = (store: BaseStore) =>
  new StoreBackend({
    store,
    namespace: (ctx) => ["memories", String(ctx.config?.configurable?.user_id ?? "anonymous")],
  });

describe("a deep agent keeps long-term memories in a StoreBackend behind a CompositeBackend", () => {
  it(
    "a second run on a new thread reads the memory the first run wrote",
    async () => {
      const store = new InMemoryStore();
      const checkpointer = new MemorySaver();
      const user = `user-${randomUUID()}`;
      const memory = "# About the user\nprefers tabs over spaces\n";

      // Run 1: scratch files on the default route, the memory under /memories/.
      const first = await runAgent(
        { store, checkpointer, backend: new CompositeBackend(new StateBackend(), { "/memories/": perUser(store) }) },
        [
          { name: "write_file", args: { file_path: "/scratch.md", content: "thread-local notes\n" } },
          { name: "write_file", args: { file_path: "/memories/user.md", content: memory } },
        ],
        { thread_id: `thread-${randomUUID()}`, user_id: user },
      );
      expect(first).toEqual(["Successfully wrote to '/scratch.md'", "Successfully wrote to '/memories/user.md'"]);
      expect(await store.get(["memories", user], "/user.md")).toMatchObject({
        value: { content: memory, mimeType: "text/markdown" },
      });

      // Run 2, new thread and fresh scratch space, the backend built per call by a factory from
      // the runtime deepagents passes (its store is the agent's store).
      const second = await runAgent(
        {
          store,
          checkpointer,
          backend: (runtime: BackendRuntime) =>
            new CompositeBackend(new StateBackend(), {
              "/memories/": new StoreBackend({
                store: runtime.store as BaseStore,
                namespace: ["memories", String((runtime.context as { userId?: unknown } | undefined)?.userId)],
              }),
            }),
        },
        [
          { name: "read_file", args: { file_path: "/memories/user.md" } },
          { name: "grep", args: { pattern: "tabs", path: "/memories" } },
          { name: "read_file", args: { file_path: "/scratch.md" } },
        ],
        { thread_id: `thread-${randomUUID()}`, user_id: user },
      );
      expect(second[0]).toContain("prefers tabs over spaces");
      expect(second[1]).toBe("/memories/user.md:\n  2: prefers tabs over spaces");
      expect(second[2]).toMatch(/not found/);
    },
    AGENT_TIMEOUT,
  );

  it(
    "another user's run does not see the memory",
    async () => {
      const store = new InMemoryStore();
      const backend = new CompositeBackend(new StateBackend(), { "/memories/": perUser(store) });
      await runAgent(
        { store, backend },
        [{ name: "write_file", args: { file_path: "/memories/secret.md", content: "user one's secret\n" } }],
        { thread_id: randomUUID(), user_id: "one" },
      );
      const other = await runAgent(
        { store, backend },
        [
          { name: "read_file", args: { file_path: "/memories/secret.md" } },
          { name: "ls", args: { path: "/memories" } },
        ],
        { thread_id: randomUUID(), user_id: "two" },
      );
      expect(other[0]).toMatch(/not found/);
      expect(other[0]).not.toContain("secret\n");
      expect(other[1]).not.toContain("secret.md");
      expect((await store.get(["memories", "one"], "/secret.md"))?.value.content).toBe("user one's secret\n");
    },
    AGENT_TIMEOUT,
  );
});
