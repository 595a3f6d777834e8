import { CompositeBackend, type ExecuteResponse, fileDataToString, MemoryBackend } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { createDeepAgent, type FilesystemPermission } from "deepagents";
import { describe, expect, it } from "vitest";

const AGENT_TIMEOUT = 60_000;

// MemoryBackend, not StateBackend: inside a graph run a StateBackend keeps files in the thread's
// state, and this test inspects the members' files directly.

/** An execute-capable default member: deepagents sees a sandbox (`execute` plus a string `id`). */
class ShellMemory extends MemoryBackend {
  readonly id = "shell-memory";
  readonly commands: string[] = [];
  async execute(command: string): Promise<ExecuteResponse> {
    this.commands.push(command);
    return { output: `ran: ${command}`, exitCode: 0, truncated: false };
  }
}

/** Every rule lies under the `/memories/` route, which deepagents accepts beside a shell. */
const ROUTE_SCOPED: FilesystemPermission[] = [
  { operations: ["write"], paths: ["/memories/**"], mode: "deny" },
  { operations: ["read"], paths: ["/memories/private/**"], mode: "deny" },
];

function textOf(message: ToolMessage): string {
  return typeof message.content === "string" ? message.content : JSON.stringify(message.content);
}

describe("deepagents permissions with an execute-capable default behind a CompositeBackend", () => {
  it(
    "accepts rules scoped to routes (as deepagents' own router does), runs execute and enforces the rules",
    async () => {
      const shell = new ShellMemory();
      const memories = new MemoryBackend({ files: { "/private/key.txt": "k", "/public.md": "hello" } });
      const backend = new CompositeBackend(shell, { "/memories/": memories });
      expect(backend.routePrefixes).toEqual(["/memories/"]);

      const model = fakeModel();
      const calls = [
        { name: "execute", args: { command: "echo hi" } },
        { name: "write_file", args: { file_path: "/memories/new.md", content: "denied" } },
        { name: "read_file", args: { file_path: "/memories/private/key.txt" } },
        { name: "read_file", args: { file_path: "/memories/public.md" } },
        { name: "write_file", args: { file_path: "/notes.md", content: "allowed\n" } },
      ];
      calls.forEach((call, i) => {
        model.respondWithTools([{ ...call, id: `call_${i}` }]);
      });
      model.respond(new AIMessage("Done."));
      const agent = createDeepAgent({ model, backend, permissions: ROUTE_SCOPED });
      const state = await agent.invoke({ messages: [new HumanMessage("go")] }, { recursionLimit: 40 });
      const results = (state.messages as BaseMessage[]).filter(ToolMessage.isInstance).map(textOf);

      expect(results).toHaveLength(calls.length);
      expect(results[0]).toBe("ran: echo hi\n[Command succeeded with exit code 0]");
      expect(shell.commands).toEqual(["echo hi"]);
      expect(results[1]).toMatch(/permission denied for write on \/memories\/new\.md/);
      expect(results[2]).toMatch(/permission denied for read on \/memories\/private\/key\.txt/);
      expect(results[3]).toContain("hello");
      expect(results[4]).toBe("Successfully wrote to '/notes.md'");
      expect(Object.keys(memories.files)).toEqual(["/private/key.txt", "/public.md"]);
      expect(fileDataToString(shell.files["/notes.md"] as never)).toBe("allowed\n");
    },
    AGENT_TIMEOUT,
  );

  it("still refuses a rule outside every route, as deepagents does", () => {
    const backend = new CompositeBackend(new ShellMemory(), { "/memories/": new MemoryBackend() });
    const permissions: FilesystemPermission[] = [{ operations: ["read"], paths: ["/secret/**"], mode: "deny" }];
    expect(() => createDeepAgent({ model: fakeModel(), backend, permissions })).toThrow(
      /permissions cannot be used with a backend that supports command execution/,
    );
  });
});
