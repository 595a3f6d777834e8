/** A postgres.js client whose sockets count the bytes they receive from the server. */
import net from "node:net";
import postgres from "postgres";

export interface CountingClient {
  sql: postgres.Sql;
  /** Bytes received from the server on every connection so far (closed ones included). */
  bytesReceived(): number;
}

/**
 * Connects through sockets created here, so `bytesRead` of each (the TCP payload the server sent:
 * protocol framing and row data, no TCP/IP headers) can be summed around a call.
 */
export function countingClient(url: string, max = 4): CountingClient {
  const { hostname, port } = new URL(url);
  const sockets: net.Socket[] = [];
  // `socket` is a documented postgres.js option missing from its type definitions.
  const options = {
    max,
    onnotice: () => {},
    socket: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(Number(port || 5432), hostname);
        sockets.push(socket);
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      }),
  } as postgres.Options<Record<string, never>>;
  const sql = postgres(url, options);
  return { sql, bytesReceived: () => sockets.reduce((sum, s) => sum + s.bytesRead, 0) };
}
