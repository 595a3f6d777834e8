import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable, Writable } from "node:stream";
import type { BackendProtocol } from "@deepfs/core";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpServer, type McpServerOptions } from "./server.js";

/** Options of {@link serveStdio}. */
export interface StdioServeOptions extends McpServerOptions {
  /** Default: process.stdin. */
  stdin?: Readable;
  /** Default: process.stdout. Nothing else may write there while the server runs. */
  stdout?: Writable;
}

/** A running server: `closed` settles when it stops (the client went away, or `close()`). */
export interface RunningServer {
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Serves `backend` over stdio (newline-delimited JSON-RPC) until stdin ends or `close()` is called. */
export async function serveStdio(backend: BackendProtocol, options: StdioServeOptions = {}): Promise<RunningServer> {
  const server = createMcpServer(backend, options);
  const stdin = options.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin, options.stdout ?? process.stdout);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  // The SDK's stdio transport does not watch for the end of its input: the client is gone then.
  const end = () => void server.close();
  stdin.once("end", end);
  stdin.once("close", end);
  await server.connect(transport);
  return {
    closed,
    close: async () => {
      await server.close();
      await closed;
    },
  };
}

/** Options of {@link serveHttp}. */
export interface HttpServeOptions extends McpServerOptions {
  /** TCP port; 0 picks a free one (read it from `url`). */
  port: number;
  /** Interface to bind (default 127.0.0.1: this machine only). */
  host?: string;
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /** The endpoint's path (default "/mcp"). */
  path?: string;
}

/** A running Streamable HTTP server. */
export interface HttpMcpServer extends RunningServer {
  /** The endpoint, e.g. http://127.0.0.1:8808/mcp. */
  url: string;
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** True when the request carries the bearer token (compared in constant time). */
function authorized(req: IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), digest(token));
}

/** The Host header's name, for DNS-rebinding protection of a server bound to this machine. */
function hostName(req: IncomingMessage): string | undefined {
  try {
    return new URL(`http://${req.headers.host ?? ""}`).hostname;
  } catch {
    return undefined;
  }
}

function reject(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * Serves `backend` over Streamable HTTP (stateless: each POST gets a fresh server over the same
 * backend, answered as JSON). Bound to 127.0.0.1 unless `host` says otherwise; a loopback server
 * also refuses requests whose Host header names another machine (DNS rebinding). With `token`,
 * every request without the bearer token is answered 401 before anything else is looked at.
 */
export async function serveHttp(backend: BackendProtocol, options: HttpServeOptions): Promise<HttpMcpServer> {
  const host = options.host ?? "127.0.0.1";
  const endpoint = options.path ?? "/mcp";
  const { token } = options;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (token !== undefined && !authorized(req, token)) {
      return reject(res, 401, "Unauthorized: missing or wrong bearer token", { "www-authenticate": "Bearer" });
    }
    if (isLoopback(host) && !LOOPBACK_NAMES.includes(hostName(req) ?? "")) {
      return reject(res, 403, "Forbidden: this server answers only requests addressed to this machine");
    }
    if (new URL(req.url ?? "/", "http://localhost").pathname !== endpoint) return reject(res, 404, "Not found");
    if (req.method !== "POST") return reject(res, 405, "Method not allowed: this server is stateless (POST only)");
    const server = createMcpServer(backend, options);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) reject(res, 500, "Internal server error");
      else res.end();
    });
  });
  await new Promise<void>((resolve, fail) => {
    http.once("error", fail);
    http.listen(options.port, host, () => {
      http.off("error", fail);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const closed = new Promise<void>((resolve) => http.once("close", resolve));
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}${endpoint}`,
    closed,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
