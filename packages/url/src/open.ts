import { type BackendProtocol, DeepfsError, type HistoryOption, StateBackend } from "@deepfs/core";
import { maskUrl, scrubSecrets, secretsOf } from "./mask.js";
import type { BackendSpec } from "./spec.js";

/** A backend opened from a URL, and how to release what it holds (pools, sockets, containers). */
export interface OpenedBackend extends AsyncDisposable {
  backend: BackendProtocol;
  /** What was opened, with any password masked: safe to print. */
  label: string;
  /** Closes the backend (and every member of a composite). Idempotent. */
  close(): Promise<void>;
}

/** Which package each scheme needs; the app installs only the ones it uses. */
export const SCHEME_PACKAGES: Readonly<Record<BackendSpec["scheme"], string>> = {
  file: "@deepfs/local",
  s3: "@deepfs/s3",
  postgres: "@deepfs/postgres",
  pglite: "@deepfs/postgres",
  docker: "@deepfs/docker",
  memory: "@deepfs/core",
};

function isMissingPackage(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === "ERR_MODULE_NOT_FOUND" && typeof message === "string" && message.includes(`'${name}'`);
}

/** Imports a backend package, turning "not installed" into an error that names the package to install. */
async function load<T>(spec: BackendSpec, importer: () => Promise<T>): Promise<T> {
  const name = SCHEME_PACKAGES[spec.scheme];
  try {
    return await importer();
  } catch (error) {
    if (!isMissingPackage(error, name)) throw error;
    throw new DeepfsError(
      "unsupported",
      `${spec.scheme}: URLs need the package ${name}, which is not installed (npm install ${name})`,
      { cause: error },
    );
  }
}

/** A close() that runs once, whoever calls it and however often. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}

function opened(backend: BackendProtocol, label: string, close: () => Promise<void>): OpenedBackend {
  const closeOnce = once(close);
  return { backend, label, close: closeOnce, [Symbol.asyncDispose]: closeOnce };
}

/** A printable description of a spec (no secrets: the PostgreSQL URL is masked). */
export function describeSpec(spec: BackendSpec): string {
  switch (spec.scheme) {
    case "file":
      return `file://${spec.rootDir}${historyQuery(spec.history)}`;
    case "s3": {
      const query = new URLSearchParams();
      if (spec.endpointUrl) query.set("endpoint", spec.endpointUrl);
      if (spec.region) query.set("region", spec.region);
      if (spec.forcePathStyle !== undefined) query.set("path-style", spec.forcePathStyle ? "1" : "0");
      const search = query.size > 0 ? `?${query}` : "";
      return `s3://${spec.bucket}/${spec.prefix ?? ""}${search}`;
    }
    case "postgres":
      return maskUrl(spec.url);
    case "pglite":
      return `pglite://${spec.dataDir ?? ""}${spec.namespace ? `?namespace=${spec.namespace}` : ""}`;
    case "docker":
      return spec.container ? `docker://${spec.container}` : `docker:?runtime=${spec.runtime ?? "python-minimal"}`;
    case "memory": {
      return `memory:${historyQuery(spec.history)}`;
    }
  }
}

/** The query of a `history` option (empty when off). */
function historyQuery(history: HistoryOption | undefined): string {
  if (history === undefined || history === false) return "";
  const max = typeof history === "object" ? history.maxVersions : undefined;
  return max === undefined ? "?history=1" : `?history-max-versions=${max}`;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Opens the backend a parsed URL describes. A failure is thrown as a `DeepfsError` whose message
 * never holds the URL's password (drivers may echo connection settings).
 */
export async function openSpec(spec: BackendSpec): Promise<OpenedBackend> {
  try {
    return await openUnmasked(spec);
  } catch (error) {
    const secrets = spec.scheme === "postgres" ? secretsOf(spec.url) : [];
    const message = error instanceof Error ? error.message : String(error);
    const scrubbed = scrubSecrets(message, secrets);
    if (DeepfsError.isInstance(error) && scrubbed === message) throw error;
    const code = DeepfsError.isInstance(error) ? error.code : "backend_unavailable";
    throw new DeepfsError(code, `${describeSpec(spec)}: ${scrubbed}`, { cause: error });
  }
}

async function openUnmasked(spec: BackendSpec): Promise<OpenedBackend> {
  const label = describeSpec(spec);
  switch (spec.scheme) {
    case "memory": {
      const backend = new StateBackend(spec.history === undefined ? {} : { history: spec.history });
      return opened(backend, label, async () => {});
    }
    case "file": {
      const { LocalBackend } = await load(spec, () => import("@deepfs/local"));
      const { rootDir, history } = spec;
      const backend = new LocalBackend(history === undefined ? { rootDir } : { rootDir, history });
      return opened(backend, label, () => backend.close());
    }
    case "s3": {
      const { S3Backend } = await load(spec, () => import("@deepfs/s3"));
      const { scheme: _, ...config } = spec;
      const backend = new S3Backend(defined(config));
      return opened(backend, label, () => backend.close());
    }
    case "postgres": {
      const { PostgresBackend } = await load(spec, () => import("@deepfs/postgres"));
      const { scheme: _, ...config } = spec;
      const backend = new PostgresBackend(defined(config));
      try {
        await backend.initialize();
      } catch (error) {
        await backend.close();
        throw error;
      }
      return opened(backend, label, () => backend.close());
    }
    case "pglite": {
      const { PostgresBackend } = await load(spec, () => import("@deepfs/postgres"));
      const { scheme: _, ...options } = spec;
      const backend = await PostgresBackend.embedded(defined(options));
      return opened(backend, label, () => backend.close());
    }
    case "docker": {
      const { DockerSandbox } = await load(spec, () => import("@deepfs/docker"));
      if (spec.container !== undefined) {
        // Attach: the container must be running (checked now, so a typo fails here); close() only detaches.
        const attached = DockerSandbox.attach(spec.container);
        try {
          await attached.start();
        } catch (error) {
          await attached.close();
          throw error;
        }
        return opened(attached, label, () => attached.close());
      }
      const sandbox = new DockerSandbox(defined({ runtime: spec.runtime as "python-minimal" | undefined }));
      return opened(sandbox, label, () => sandbox.close());
    }
  }
}
