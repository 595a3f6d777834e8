import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { HistoryOption } from "@deepfs/core";
import { DeepfsError } from "@deepfs/core";
import { maskUrl } from "./mask.js";
import type { BackendSpec, DockerSpec, FileSpec, MemorySpec, PgliteSpec, PostgresSpec, S3Spec } from "./spec.js";

/** The schemes {@link parseBackendUrl} understands (`postgresql:` is an alias of `postgres:`). */
export const SCHEMES = ["file", "s3", "postgres", "postgresql", "pglite", "docker", "memory"] as const;

/** Options of {@link parseBackendUrl}. */
export interface ParseOptions {
  /** Directory that relative paths (`./workspace`, `pglite:./data`) resolve against. Default: `process.cwd()`. */
  cwd?: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** The scheme of `input` in lower case, or undefined for a plain path. */
export function schemeOf(input: string): string | undefined {
  return SCHEME.exec(input)?.[1]?.toLowerCase();
}

function invalid(input: string, problem: string, hint?: string): never {
  throw new DeepfsError("invalid_argument", `${problem} in backend URL '${maskUrl(input)}'${hint ? `; ${hint}` : ""}`);
}

function parseUrl(input: string): URL {
  try {
    return new URL(input);
  } catch (error) {
    throw new DeepfsError("invalid_argument", `not a valid URL: '${maskUrl(input)}'`, { cause: error });
  }
}

/** Query parameters of `url`, refusing any not in `allowed` and any given twice. */
function queryOf(input: string, url: URL, allowed: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (!allowed.includes(key)) {
      const known = allowed.length > 0 ? `known parameters: ${allowed.join(", ")}` : "this scheme takes none";
      invalid(input, `unknown parameter '${key}'`, known);
    }
    if (params.has(key)) invalid(input, `parameter '${key}' given twice`);
    params.set(key, value);
  }
  return params;
}

function flag(input: string, name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (["1", "true", "yes", ""].includes(value)) return true;
  if (["0", "false", "no"].includes(value)) return false;
  return invalid(input, `parameter '${name}' must be 1 or 0`);
}

/** The query parameters that turn version history on (see {@link historyOf}). */
export const HISTORY_PARAMS = ["history", "history-max-versions"] as const;

/**
 * The `history` option a query asks for: `history=1` turns it on, `history-max-versions=N` (which
 * implies it) keeps at most N versions per file; undefined when the query says nothing of history.
 */
function historyOf(input: string, query: Map<string, string>): HistoryOption | undefined {
  const on = flag(input, "history", query.get("history"));
  const max = query.get("history-max-versions");
  if (max === undefined) return on;
  const maxVersions = Number(max);
  if (!/^[0-9]+$/.test(max) || !Number.isSafeInteger(maxVersions) || maxVersions < 1) {
    invalid(input, "parameter 'history-max-versions' must be a positive integer");
  }
  if (on === false) invalid(input, "history=0 with history-max-versions", "drop one of them");
  return { maxVersions };
}

/**
 * Refuses the history parameters on a scheme whose backend keeps no history (its options have no
 * `history`), saying so instead of the generic "unknown parameter".
 */
function refuseHistory(input: string, url: URL, scheme: string): void {
  for (const name of HISTORY_PARAMS) {
    if (url.searchParams.has(name)) {
      invalid(
        input,
        `parameter '${name}': ${scheme}: backends keep no version history yet`,
        "history is available on memory:, file:, s3: (a versioned bucket), postgres: and pglite: (e.g. memory:?history=1) and in configs whose routes all keep it",
      );
    }
  }
}

function decoded(input: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return invalid(input, "a malformed %-escape");
  }
}

function parseS3(input: string, url: URL): S3Spec {
  if (url.username || url.password) {
    invalid(
      input,
      "credentials",
      "S3 credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...), never from the URL",
    );
  }
  if (url.port) invalid(input, "a port after the bucket", "give the server as ?endpoint=http://host:port");
  const bucket = decoded(input, url.hostname);
  if (bucket === "") invalid(input, "no bucket", "write s3://bucket/prefix");
  const query = queryOf(input, url, ["endpoint", "region", "path-style", ...HISTORY_PARAMS]);
  const prefix = decoded(input, url.pathname).replace(/^\/+|\/+$/g, "");
  const spec: S3Spec = { scheme: "s3", bucket };
  if (prefix !== "") spec.prefix = prefix;
  const endpoint = query.get("endpoint");
  if (endpoint !== undefined) {
    if (!/^https?:\/\/[^/?#]+\/?$/i.test(endpoint)) {
      invalid(input, "endpoint must be http(s)://host[:port]", "e.g. ?endpoint=http://127.0.0.1:9000");
    }
    spec.endpointUrl = endpoint.replace(/\/$/, "");
  }
  const region = query.get("region");
  if (region !== undefined) spec.region = region;
  const pathStyle = flag(input, "path-style", query.get("path-style"));
  if (pathStyle !== undefined) spec.forcePathStyle = pathStyle;
  const history = historyOf(input, query);
  if (history !== undefined) spec.history = history;
  return spec;
}

const STORAGE_PARAMS = ["table", "schema", "namespace"] as const;

function storageOptions(query: URLSearchParams | Map<string, string>, target: PostgresSpec | PgliteSpec): void {
  for (const name of STORAGE_PARAMS) {
    const value = query.get(name);
    if (value !== undefined && value !== null) target[name] = value;
  }
}

function parsePostgres(input: string, url: URL): PostgresSpec {
  const connection = new URL(input);
  const spec: PostgresSpec = { scheme: "postgres", url: "" };
  for (const name of STORAGE_PARAMS) {
    const values = url.searchParams.getAll(name);
    if (values.length > 1) invalid(input, `parameter '${name}' given twice`);
    if (values[0] === "") invalid(input, `parameter '${name}' is empty`);
    connection.searchParams.delete(name);
  }
  const history = new Map<string, string>();
  for (const name of HISTORY_PARAMS) {
    const values = url.searchParams.getAll(name);
    if (values.length > 1) invalid(input, `parameter '${name}' given twice`);
    if (values[0] !== undefined) history.set(name, values[0]);
    connection.searchParams.delete(name);
  }
  storageOptions(url.searchParams, spec);
  const kept = historyOf(input, history);
  if (kept !== undefined) spec.history = kept;
  spec.url = connection.href;
  return spec;
}

function parsePglite(input: string, url: URL, cwd: string): PgliteSpec {
  if (url.host) invalid(input, `a host ('${url.host}')`, "write pglite:///absolute/datadir or pglite:./relative");
  const query = queryOf(input, url, [...STORAGE_PARAMS, ...HISTORY_PARAMS]);
  const spec: PgliteSpec = { scheme: "pglite" };
  const path = decoded(input, url.pathname);
  if (path !== "") spec.dataDir = isAbsolute(path) ? path : resolve(cwd, path);
  storageOptions(query, spec);
  const history = historyOf(input, query);
  if (history !== undefined) spec.history = history;
  return spec;
}

function parseDocker(input: string, url: URL): DockerSpec {
  const query = queryOf(input, url, ["runtime"]);
  const spec: DockerSpec = { scheme: "docker" };
  if (url.host) {
    if (query.has("runtime")) invalid(input, "both a container and a runtime", "attach or start, not both");
    if (url.pathname !== "" && url.pathname !== "/") invalid(input, "a path after the container name");
    spec.container = decoded(input, url.host);
    return spec;
  }
  if (url.pathname !== "") invalid(input, "a path", "write docker:?runtime=python-minimal or docker://<container>");
  const runtime = query.get("runtime");
  if (runtime !== undefined) {
    if (runtime === "") invalid(input, "an empty runtime");
    spec.runtime = runtime;
  }
  return spec;
}

/**
 * Parses a backend URL (see the table in the README):
 *
 * - `file:///abs/dir` or a plain path (`./workspace`, `/srv/files`): a `LocalBackend` there;
 * - `s3://bucket/prefix?endpoint=http://host:port&region=...&path-style=1`: an `S3Backend`, with
 *   credentials from the AWS SDK's chain (a URL with credentials is refused);
 * - `postgres://user:pass@host:port/db?table=...&schema=...&namespace=...`: a `PostgresBackend`
 *   (other parameters, such as `sslmode`, go to the driver);
 * - `pglite:///abs/datadir?namespace=...` (`pglite:` alone: in memory): the embedded PostgreSQL;
 * - `docker:?runtime=python-minimal`: a fresh `DockerSandbox`; `docker://<container>`: attach;
 * - `memory:`: a `StateBackend` (`memory:?history=1`, `&history-max-versions=N`: with version history).
 *
 * Throws a `DeepfsError` (`invalid_argument`) whose message shows the URL with its password masked.
 */
export function parseBackendUrl(input: string, options: ParseOptions = {}): BackendSpec {
  if (typeof input !== "string" || input.trim() === "") {
    throw new DeepfsError("invalid_argument", "a backend URL must be a non-empty string");
  }
  const cwd = options.cwd ?? process.cwd();
  const scheme = schemeOf(input);
  if (scheme === undefined) return { scheme: "file", rootDir: resolve(cwd, input) };
  switch (scheme) {
    case "file": {
      const url = parseUrl(input);
      if (url.hash) invalid(input, "a fragment", "file URLs take no fragment");
      const history = historyOf(input, queryOf(input, url, HISTORY_PARAMS));
      url.search = "";
      try {
        const spec: FileSpec = { scheme: "file", rootDir: fileURLToPath(url) };
        if (history !== undefined) spec.history = history;
        return spec;
      } catch (error) {
        throw new DeepfsError("invalid_argument", `not a local file URL: '${maskUrl(input)}' (write file:///abs/dir)`, {
          cause: error,
        });
      }
    }
    case "s3":
    case "postgres":
    case "postgresql":
    case "pglite":
    case "docker": {
      const url = parseUrl(input);
      if (scheme === "docker") refuseHistory(input, url, scheme);
      if (scheme === "s3") return parseS3(input, url);
      if (scheme === "pglite") return parsePglite(input, url, cwd);
      if (scheme === "docker") return parseDocker(input, url);
      return parsePostgres(input, url);
    }
    case "memory": {
      const url = parseUrl(input);
      if (url.pathname !== "" || url.host) invalid(input, "anything after 'memory:' but a query");
      const spec: MemorySpec = { scheme: "memory" };
      const history = historyOf(input, queryOf(input, url, HISTORY_PARAMS));
      if (history !== undefined) spec.history = history;
      return spec;
    }
    default:
      return invalid(
        input,
        `unknown scheme '${scheme}:'`,
        `known schemes: ${SCHEMES.join(", ")}; write ./${input} for a local path`,
      );
  }
}
