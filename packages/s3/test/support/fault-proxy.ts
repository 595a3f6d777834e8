import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Which requests a fault applies to. */
export interface FaultMatch {
  /** HTTP method (`GET`, `PUT`, `HEAD`, ...); any when omitted. */
  method?: string;
  /** A test of the request's path and query (e.g. `partNumber=2`); any when omitted. */
  url?: RegExp;
}

/** An S3 error answered instead of forwarding. */
export interface ErrorFault extends FaultMatch {
  status: number;
  /** S3 error code in the XML body, e.g. `SlowDown`. */
  code: string;
  /** Seconds sent as `Retry-After`. */
  retryAfter?: number;
}

interface ActiveFault {
  match: FaultMatch;
  /** Requests left to hit; `Infinity` until {@link FaultProxy.heal}. */
  left: number;
  apply(req: IncomingMessage, res: ServerResponse): void;
}

/** Hung connections kept at most at once; beyond that a hang fault closes the connection instead. */
const MAX_HUNG = 64;

/**
 * A fault-injecting HTTP proxy in front of a loopback S3 server (moto). Requests pass through
 * unchanged (SigV4 signatures stay valid: the Host header is kept) until a fault is armed; then
 * the next matching requests get an S3 error, or are accepted and never answered (a hung
 * connection), while every other request still passes.
 *
 * It listens on 127.0.0.1 only and forwards only to a loopback target; `close()` destroys every
 * connection it holds, hung ones included.
 */
export class FaultProxy {
  /** Requests received, faulted or not. */
  requests = 0;
  /** Requests answered by a fault (errors sent and connections hung). */
  injected = 0;
  /** Body bytes of forwarded responses read from the server (as far as the client took them). */
  bytesForwarded = 0;
  /** Forwarded responses whose client went away before their end. */
  responsesCutShort = 0;

  private faults: ActiveFault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private readonly upstream = new Agent({ keepAlive: true, maxSockets: 32 });

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    /** The proxy's endpoint, e.g. `http://127.0.0.1:41234`. */
    readonly url: string,
  ) {}

  /** Starts a proxy for `target` (an `http://` loopback URL) on a free loopback port. */
  static async start(target: string): Promise<FaultProxy> {
    const parsed = new URL(target);
    if (parsed.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname)) {
      throw new Error(`FaultProxy only fronts a loopback http:// server, not ${target}`);
    }
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => proxy?.handle(req, res));
    server.maxConnections = 256;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, parsed, `http://127.0.0.1:${port}`);
    const sockets = proxy.sockets;
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    return proxy;
  }

  /** Answers the next `times` matching requests with an S3 error (`Infinity`: until healed). */
  fail(times: number, fault: ErrorFault): void {
    this.arm(times, fault, (req, res) => {
      drain(req, () => {
        const headers: Record<string, string | number> = {
          "content-type": "application/xml",
          "x-amz-request-id": "fault-proxy",
        };
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        // HEAD responses carry no body; S3 clients read the error from the status alone.
        const body =
          req.method === "HEAD"
            ? ""
            : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by FaultProxy</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(fault.status, { ...headers, "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
    });
  }

  /** Accepts the next `times` matching requests and never answers them (`Infinity`: until healed). */
  hang(times: number, match: FaultMatch = {}): void {
    this.arm(times, match, (req, res) => {
      drain(req, () => {
        if (this.hung.size >= MAX_HUNG) {
          res.socket?.destroy();
          return;
        }
        this.hung.add(res);
        res.once("close", () => this.hung.delete(res));
      });
    });
  }

  /**
   * Forwards the next `times` matching requests, lets the server complete them, then resets the
   * client's connection instead of answering: the change is made but its acknowledgement is lost.
   * `meanwhile` runs (and is awaited) after the server answered and before the reset.
   */
  loseResponse(times: number, match: FaultMatch = {}, meanwhile?: () => Promise<unknown>): void {
    this.arm(times, match, (req, res) => this.forward(req, res, { meanwhile }));
  }

  /** Runs `first` (and awaits it) before forwarding each of the next `times` matching requests. */
  delay(times: number, match: FaultMatch, first: () => Promise<unknown>): void {
    this.arm(times, match, (req, res) => {
      Promise.resolve()
        .then(first)
        .catch(() => {})
        .then(() => this.forward(req, res));
    });
  }

  /** Disarms every fault and drops the hung connections; later requests pass through again. */
  heal(): void {
    this.faults = [];
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
  }

  /** Heals, then stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.heal();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.upstream.destroy();
    await closed;
  }

  private arm(times: number, match: FaultMatch, apply: ActiveFault["apply"]): void {
    if (!(times > 0)) throw new Error("a fault needs a positive number of requests");
    this.faults.push({ match: { method: match.method, url: match.url }, left: times, apply });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const fault = this.faults.find(
      (f) =>
        f.left > 0 &&
        (f.match.method === undefined || f.match.method === req.method) &&
        (f.match.url === undefined || f.match.url.test(req.url ?? "")),
    );
    if (!fault) {
      this.forward(req, res);
      return;
    }
    fault.left--;
    this.injected++;
    fault.apply(req, res);
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    lose?: { meanwhile?: (() => Promise<unknown>) | undefined },
  ): void {
    const upstream = httpRequest(
      {
        host: this.target.hostname.replace(/^\[|\]$/g, ""),
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.upstream,
      },
      (answer) => {
        if (lose) {
          answer.resume();
          answer.once("end", () => {
            // A failure of `meanwhile` is the test's to see (in what it returns); the reset happens anyway.
            Promise.resolve()
              .then(lose.meanwhile)
              .catch(() => {})
              .then(() => res.socket?.destroy());
          });
          return;
        }
        answer.on("data", (chunk: Buffer) => {
          this.bytesForwarded += chunk.length;
        });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once("error", () => res.socket?.destroy());
    res.once("close", () => {
      if (res.writableFinished) return;
      if (!lose) this.responsesCutShort++;
      upstream.destroy();
    });
    req.pipe(upstream);
  }
}

/** Reads the whole request first, as a server does, so the client is not cut off mid-upload. */
function drain(req: IncomingMessage, then: () => void): void {
  req.resume();
  req.once("end", then);
}
