import { randomUUID } from "node:crypto";
import { CompositeBackend, type FileData, fileDataToString, StateBackend } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { type BaseCheckpointSaver, InMemoryStore, MemorySaver, StateSchema } from "@langchain/langgraph";
import { createDeepAgent } from "deepagents";
import { describe, expect, it } from "vitest";
import { type NamespaceContext, StoreBackend } from "../src/index.js";

// deepfs's backends in a real createDeepAgent with a checkpointer, where deepagents' own StateBackend
// keeps files per thread in the graph state and calls namespace functions with that state.

const AGENT_TIMEOUT = 60_000;

type ToolCall = { name: string; args: Record<string, unknown> };
/** One model turn: the tool calls of one AI message (several calls of one turn run in parallel). */
type Turn = ToolCall[];

interface RunResult {
  /** Tool results of this invoke, in the order the agent received them. */
  texts: string[];
  /** The thread's `files` state after the run. */
  files: Record<string, FileData>;
}

type DeepAgentParams = NonNullable<Parameters<typeof createDeepAgent>[0]>;

interface AgentOptions {
  backend: DeepAgentParams["backend"];
  checkpointer: BaseCheckpointSaver;
  store?: InMemoryStore;
  stateSchema?: DeepAgentParams["stateSchema"];
}

/**
 * A deep agent with a scripted offline model: `script` holds, for each invoke to come, its model
 * turns. One agent serves every invoke (a thread's later invoke must run on the same graph).
 */
function scriptedAgent(options: AgentOptions, script: Turn[][]) {
  const model = fakeModel();
  script.forEach((turns, n) => {
    turns.forEach((calls, turn) => {
      model.respondWithTools(calls.map((call, i) => ({ ...call, id: `call_${n}_${turn}_${i}_${call.name}` })));
    });
    model.respond(new AIMessage("Done."));
  });
  const params: DeepAgentParams = { model, ...options };
  const agent = createDeepAgent(params);
  /** Runs the next scripted invoke on `thread`; `input` adds `files` to seed or custom state fields. */
  return async (thread: string, input: Record<string, unknown> = {}): Promise<RunResult> => {
    const state = await agent.invoke({ messages: [new HumanMessage("Work on the files.")], ...input } as never, {
      recursionLimit: 30,
      configurable: { thread_id: thread },
    });
    // A thread's earlier invokes are in its messages too: keep this invoke's (after its prompt).
    const messages = state.messages as BaseMessage[];
    const prompt = messages.findLastIndex(HumanMessage.isInstance);
    const texts = messages
      .slice(prompt + 1)
      .filter(ToolMessage.isInstance)
      .map(textOf);
    return { texts, files: (state as { files?: Record<string, FileData> }).files ?? {} };
  };
}

function textOf(message: ToolMessage): string {
  if (typeof message.content === "string") return message.content;
  return message.content
    .map((block) => ("text" in block && typeof block.text === "string" ? block.text : JSON.stringify(block)))
    .join("");
}

function texts(files: Record<string, FileData>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, data]) => [path, fileDataToString(data)]));
}

const write = (file_path: string, content: string): ToolCall => ({ name: "write_file", args: { file_path, content } });
const read = (file_path: string): ToolCall => ({ name: "read_file", args: { file_path } });
const edit = (file_path: string, old_string: string, new_string: string): ToolCall => ({
  name: "edit_file",
  args: { file_path, old_string, new_string },
});

describe("deepfs's StateBackend in createDeepAgent behaves as deepagents' (per-thread graph state)", () => {
  it(
    "two threads never see each other's files, and result.files reports each thread's own",
    async () => {
      const backend = new StateBackend();
      const invoke = scriptedAgent({ backend, checkpointer: new MemorySaver() }, [
        [[write("/secret.txt", "thread one\n")]],
        [[read("/secret.txt")], [{ name: "ls", args: { path: "/" } }]],
      ]);
      const one = await invoke("t1");
      const two = await invoke("t2");
      expect(one.texts).toEqual(["Successfully wrote to '/secret.txt'"]);
      expect(texts(one.files)).toEqual({ "/secret.txt": "thread one\n" });
      expect(one.files["/secret.txt"]).toMatchObject({ mimeType: "text/plain", created_at: expect.any(String) });
      expect(two.texts[0]).toContain("not found");
      expect(two.texts[0]).not.toContain("thread one");
      expect(two.texts[1]).toBe("No files found in /");
      expect(two.files).toEqual({});
      expect(backend.files, "nothing is kept in the object, shared by every thread").toEqual({});
    },
    AGENT_TIMEOUT,
  );

  it(
    "invoke({ files }) seeds the thread (v1 and v2 FileData), and deepfs edits them in place",
    async () => {
      const at = "2025-01-01T00:00:00.000Z";
      const invoke = scriptedAgent({ backend: new StateBackend(), checkpointer: new MemorySaver() }, [
        [[read("/seed.txt")], [edit("/legacy.md", "format", "v1 format")]],
      ]);
      const result = await invoke("seeded", {
        files: {
          "/seed.txt": { content: "seeded\n", mimeType: "text/plain", created_at: at, modified_at: at },
          "/legacy.md": { content: ["# old", "format"], created_at: at, modified_at: at },
        },
      });
      expect(result.texts).toEqual([
        "@@ lines 1-1 of 1 @@\nseeded",
        "Successfully replaced 1 occurrence(s) in '/legacy.md'",
      ]);
      expect(texts(result.files)).toEqual({ "/seed.txt": "seeded\n", "/legacy.md": "# old\nv1 format" });
      expect(result.files["/legacy.md"]).toMatchObject({ mimeType: "text/markdown", created_at: at });
    },
    AGENT_TIMEOUT,
  );

  it(
    "parallel write_file calls of one AI message both land; a later invoke of the thread sees them",
    async () => {
      const invoke = scriptedAgent({ backend: new StateBackend(), checkpointer: new MemorySaver() }, [
        [
          [
            write("/a.txt", "A\n"),
            write("/b.txt", "B\n"),
            write("/c.png", Buffer.from([0, 255, 1]).toString("base64")),
          ],
        ],
        [[read("/b.txt")], [{ name: "ls", args: { path: "/" } }]],
        [[read("/b.txt")]],
      ]);
      const first = await invoke("t");
      expect(first.texts).toEqual([
        "Successfully wrote to '/a.txt'",
        "Successfully wrote to '/b.txt'",
        "Successfully wrote to '/c.png'",
      ]);
      expect(first.files["/a.txt"]).toMatchObject({ content: "A\n", mimeType: "text/plain" });
      expect(first.files["/b.txt"]).toMatchObject({ content: "B\n", mimeType: "text/plain" });
      expect(first.files["/c.png"]).toMatchObject({ content: new Uint8Array([0, 255, 1]), mimeType: "image/png" });
      // The checkpoint of thread t brings them back, bytes exact; another thread still has nothing.
      const second = await invoke("t");
      expect(second.texts).toEqual(["@@ lines 1-1 of 1 @@\nB", "/a.txt (2 bytes)\n/b.txt (2 bytes)\n/c.png (3 bytes)"]);
      expect(Object.keys(second.files).sort()).toEqual(["/a.txt", "/b.txt", "/c.png"]);
      const other = await invoke("u");
      expect(other.texts[0]).toContain("not found");
    },
    AGENT_TIMEOUT,
  );

  it(
    "two edits of one file in one AI message: one lands, the other answers conflict, nothing is lost silently",
    async () => {
      const invoke = scriptedAgent({ backend: new StateBackend(), checkpointer: new MemorySaver() }, [
        [[write("/f.txt", "one two\n")], [edit("/f.txt", "one", "1"), edit("/f.txt", "two", "2")]],
      ]);
      const result = await invoke("t");
      const [, first, second] = result.texts;
      const landed = [first, second].map((text) => text?.startsWith("Successfully replaced 1 occurrence"));
      expect(landed.filter(Boolean)).toHaveLength(1);
      expect(landed[0] ? second : first).toContain("changed by another tool call of this step");
      expect(texts(result.files)["/f.txt"]).toBe(landed[0] ? "1 two\n" : "one 2\n");
    },
    AGENT_TIMEOUT,
  );
});

describe("deepfs's StoreBackend namespace function receives the graph state, as deepagents' does", () => {
  // A custom state field, declared with a minimal Standard Schema (any validator library would do).
  const userId = {
    "~standard": {
      version: 1,
      vendor: "deepfs-test",
      validate: (value: unknown) => ({ value: String(value) }),
      jsonSchema: { input: () => ({ type: "string" }), output: () => ({ type: "string" }) },
    },
  } as const;

  it(
    "({ state }) => [...] puts each user's memories in its own namespace, next to per-thread scratch files",
    async () => {
      const store = new InMemoryStore();
      const seen: NamespaceContext[] = [];
      const memories = new StoreBackend({
        store,
        namespace: (ctx) => {
          seen.push(ctx);
          return ["memories", String((ctx.state as { userId?: unknown } | undefined)?.userId)];
        },
      });
      const invoke = scriptedAgent(
        {
          backend: new CompositeBackend(new StateBackend(), { "/memories/": memories }),
          checkpointer: new MemorySaver(),
          store,
          stateSchema: new StateSchema({ userId }),
        },
        [
          [[write("/memories/prefs.md", "tabs\n"), write("/scratch.md", "draft\n")]],
          [[read("/memories/prefs.md")], [read("/scratch.md")]],
          [[read("/memories/prefs.md")]],
        ],
      );
      const alice = `alice-${randomUUID().slice(0, 8)}`;
      const bob = `bob-${randomUUID().slice(0, 8)}`;
      const first = await invoke("a1", { userId: alice });
      expect(first.texts).toEqual([
        "Successfully wrote to '/memories/prefs.md'",
        "Successfully wrote to '/scratch.md'",
      ]);
      expect(seen[0]?.state).toMatchObject({ userId: alice });
      expect(Object.keys(first.files), "memories go to the store, scratch to the thread").toEqual(["/scratch.md"]);
      expect((await store.get(["memories", alice], "/prefs.md"))?.value).toMatchObject({ content: "tabs\n" });

      // Alice's next thread finds her memory but not the other thread's scratch; Bob finds neither.
      const again = await invoke("a2", { userId: alice });
      expect(again.texts[0]).toBe("@@ lines 1-1 of 1 @@\ntabs");
      expect(again.texts[1]).toContain("not found");
      const other = await invoke("b1", { userId: bob });
      expect(other.texts[0]).toContain("not found");
      expect(await store.search(["memories", bob])).toEqual([]);
    },
    AGENT_TIMEOUT,
  );
});
