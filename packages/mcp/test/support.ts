import type { BackendProtocol } from "@deepfs/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createMcpServer, type McpServerOptions } from "../src/index.js";

/** A client of the SDK connected in memory to a server over `backend`. */
export async function connect(backend: BackendProtocol, options: McpServerOptions = {}) {
  const server = createMcpServer(backend, options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "deepfs-test", version: "1.0.0" });
  await client.connect(clientSide);
  const call = async (name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> => {
    try {
      return (await client.callTool({ name, arguments: args })) as CallToolResult;
    } catch (error) {
      // The SDK may answer an unknown tool or invalid arguments with a protocol error instead.
      return { isError: true, content: [{ type: "text", text: (error as Error).message }] };
    }
  };
  return {
    client,
    call,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** The text of a result's first content block. */
export function textOf(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === "text" ? first.text : "";
}
