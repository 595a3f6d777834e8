/**
 * The in-memory S3 server and its latency proxy on a worker thread, so that serving thousands of
 * requests does not take CPU from the client under measure (the machine has few cores, and the
 * client, the proxy and the server would otherwise share one event loop). The bucket holds the
 * standard corpus of `seed` and `objects` below `prefix`, generated here.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { generateCorpus, standardSpec } from "./corpus.js";
import { type InFlightStats, startLatencyProxy } from "./latency-proxy.js";
import { startMemoryS3 } from "./memory-s3.js";

interface Setup {
  bucket: string;
  prefix: string;
  seed: number;
  objects: number;
  latencyMs: number;
}

type Request = { id: number; op: "inFlight" | "reset" | "close" };

/** The worker's server behind its proxy, seen from the main thread. */
export interface RemoteMemoryS3 {
  /** The proxy's URL: use it as the S3 endpoint. */
  url: string;
  inFlight(): Promise<InFlightStats>;
  resetInFlight(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the worker and waits until its proxy listens. */
export async function startRemoteMemoryS3(setup: Setup): Promise<RemoteMemoryS3> {
  const worker = new Worker(new URL(import.meta.url), { workerData: setup });
  const waiting = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (message: { url: string }) => resolve(message.url));
  });
  worker.on("message", (message: { id: number; value: unknown }) => {
    waiting.get(message.id)?.(message.value);
    waiting.delete(message.id);
  });
  const ask = <T>(op: Request["op"]) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve as (value: unknown) => void);
      worker.postMessage({ id, op } satisfies Request);
    });
  return {
    url,
    inFlight: () => ask<InFlightStats>("inFlight"),
    resetInFlight: () => ask<void>("reset"),
    close: async () => {
      await ask<void>("close");
      await worker.terminate();
    },
  };
}

async function serve(setup: Setup, port: NonNullable<typeof parentPort>): Promise<void> {
  const store = new Map<string, Uint8Array>();
  for (const f of generateCorpus(standardSpec(setup.seed, setup.objects))) {
    store.set(`${setup.prefix}${f.path}`, Buffer.from(f.content));
  }
  const server = await startMemoryS3(setup.bucket, store);
  const proxy = await startLatencyProxy(server.url, setup.latencyMs);
  port.on("message", async (request: Request) => {
    let value: unknown;
    if (request.op === "inFlight") value = proxy.inFlight();
    else if (request.op === "reset") proxy.resetInFlight();
    else {
      await proxy.close();
      await server.close();
    }
    port.postMessage({ id: request.id, value });
  });
  port.postMessage({ url: proxy.url });
}

if (!isMainThread && parentPort) await serve(workerData as Setup, parentPort);
