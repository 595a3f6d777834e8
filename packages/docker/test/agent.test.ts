import { expectedToolResults, runAgentScenario } from "@deepfs/conformance/agent";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { createDeepAgent, isSandboxBackend } from "deepagents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DockerSandbox } from "../src/index.js";
import { containersLabelled, fileTag, skipReason, testSandbox } from "./helpers.js";

const tag = fileTag("agent");
const AGENT_TIMEOUT = 60_000;

describe.skipIf(Boolean(skipReason))(
  "a real deep agent (createDeepAgent, scripted offline model) on a DockerSandbox",
  () => {
    let sandbox: DockerSandbox;

    beforeAll(async () => {
      sandbox = testSandbox(tag);
      await sandbox.start();
    });

    afterAll(async () => {
      await sandbox?.stop();
      expect(await containersLabelled("deepfs.test-file", tag)).toEqual([]);
    });

    it(
      "runs the file-tool scenario, and the files are in the container",
      async () => {
        const result = await runAgentScenario(sandbox, { root: "/workspace/agent" });
        const { files, toolResults } = result;
        expect(toolResults.map(({ name, text }) => ({ name, text }))).toEqual(expectedToolResults(files));
        const listing = await sandbox.execute("cd /workspace/agent && find . -type f | sort && cat notes/todo.md");
        expect(listing.output).toBe(`./notes/todo.md\n./src/app.py\n${files.todoEdited}`);
      },
      AGENT_TIMEOUT,
    );

    it(
      "offers the execute tool and runs a command the agent wrote a file for",
      async () => {
        const model = fakeModel();
        model.respondWithTools([
          {
            name: "write_file",
            args: { file_path: "/workspace/run/hello.sh", content: 'echo "hello from $(id -un) in $(pwd)"\nexit 3\n' },
            id: "call_0_write",
          },
        ]);
        model.respondWithTools([
          { name: "execute", args: { command: "sh /workspace/run/hello.sh" }, id: "call_1_exec" },
        ]);
        model.respond(new AIMessage("Done."));
        const agent = createDeepAgent({ model, backend: sandbox });
        const state = await agent.invoke(
          { messages: [new HumanMessage("Run the greeting script.")] },
          { recursionLimit: 20 },
        );
        const tools = (state.messages as BaseMessage[]).filter(ToolMessage.isInstance);
        expect(tools.map((m) => [m.name, m.content])).toEqual([
          ["write_file", "Successfully wrote to '/workspace/run/hello.sh'"],
          ["execute", "hello from agent in /workspace\n\n[Command failed with exit code 3]"],
        ]);
      },
      AGENT_TIMEOUT,
    );

    it("deepagents sees a DockerSandbox, and a CompositeBackend on one, as a sandbox", async () => {
      expect(isSandboxBackend(sandbox)).toBe(true);
      const composite = new CompositeBackend(sandbox, { "/memories/": new StateBackend() });
      expect(isSandboxBackend(composite)).toBe(true);
      expect(composite.id).toBe(sandbox.id);
      expect(composite.capabilities.execute).toBe(true);
      expect(await composite.execute("echo via composite")).toMatchObject({ output: "via composite\n", exitCode: 0 });
    });
  },
);
