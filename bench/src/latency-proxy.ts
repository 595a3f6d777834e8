/**
 * An HTTP proxy on loopback that holds every request for a fixed time before forwarding it, so that
 * a local S3 server answers with the round-trip latency of a real one. Bodies stream through
 * untouched; the proxy adds latency, nothing else.
 */
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** How many requests the proxy held or forwarded at once, since the last {@link LatencyProxy.resetInFlight}. */
export interface InFlightStats {
  /** Most requests in flight at one time. */
  peak: number;
  /** Requests in flight on average while at least one was (time-weighted). */
  mean: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:PORT`: use it as the S3 endpoint. */
  url: string;
  /** Requests in flight (from arrival to the end of the answer) since the last reset. */
  inFlight(): InFlightStats;
  resetInFlight(): void;
  close(): Promise<void>;
}

/** Starts a proxy in front of `upstream` (an `http://` URL) that delays each request by `delayMs`. */
export async function startLatencyProxy(upstream: string, delayMs: number): Promise<LatencyProxy> {
  const target = new URL(upstream);
  // Enough pooled connections that the proxy never queues a request the client sent in parallel.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let current = 0;
  let peak = 0;
  let weighted = 0;
  let busy = 0;
  let since = performance.now();
  const account = (delta: number) => {
    const now = performance.now();
    if (current > 0) {
      weighted += current * (now - since);
      busy += now - since;
    }
    since = now;
    current += delta;
    peak = Math.max(peak, current);
  };
  const server: Server = createServer((incoming, outgoing) => {
    account(1);
    outgoing.once("close", () => account(-1));
    setTimeout(() => {
      const forwarded = request(
        {
          agent,
          hostname: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on("error", () => outgoing.destroy());
      incoming.pipe(forwarded);
    }, delayMs);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inFlight: () => {
      account(0);
      return { peak, mean: busy > 0 ? weighted / busy : 0 };
    },
    resetInFlight: () => {
      account(0);
      peak = current;
      weighted = 0;
      busy = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
