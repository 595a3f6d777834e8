import { resolve } from "node:path";
import { DeepfsError } from "@deepfs/core";
import { maskUrl } from "./mask.js";
import { type ParseOptions, parseBackendUrl, schemeOf } from "./parse.js";
import type { BackendSpec } from "./spec.js";

/** A backend and a path inside it, as named by one command-line operand. */
export interface Location {
  /** The backend URL, without the path (the key under which one process shares one backend). */
  url: string;
  spec: BackendSpec;
  /** Absolute path inside the backend, as written (a trailing `/` is kept: it says "a directory"). */
  path: string;
}

function join(base: string, rest: string): string {
  return `${base.replace(/\/+$/, "")}/${rest.replace(/^\/+/, "")}`;
}

function invalid(operand: string, problem: string): never {
  throw new DeepfsError("invalid_argument", `${problem}: '${maskUrl(operand)}'`);
}

/** `scheme://authority` and the raw path after it (up to `?`), for the split without a `#`. */
function authorityAndPath(base: string): { head: string; path: string; query: string } {
  const match = /^([a-z][a-z0-9+.-]*:(?:\/\/[^/?]*)?)([^?]*)(\?.*)?$/i.exec(base);
  return { head: match?.[1] ?? base, path: match?.[2] ?? "", query: match?.[3] ?? "" };
}

/**
 * Splits a command-line operand into a backend URL and a path inside that backend.
 *
 * - A plain path (no scheme) or a `file:` URL is a path on this machine: the backend is the local
 *   file system at `/`, the path is the absolute path (`./notes.md` → `/home/me/notes.md`).
 * - `s3://bucket/key/prefix`: the backend is the bucket, the path the key (`/key/prefix`).
 * - `postgres://host/db/notes/a.md`: the backend is the database (first path segment), the path the rest.
 * - `pglite:///datadir`: the whole path is the data directory and the location is its `/`.
 * - `docker://container/workspace/a.py`, `memory:/a.md`: the path after the container / scheme.
 * - In every URL, `#` ends the backend URL explicitly and starts the path: `s3://bucket/tenant#/src/`
 *   is `/src/` in a backend rooted at prefix `tenant`, `pglite:///data/pg#/notes/a.md` is `/notes/a.md`
 *   in the database at `/data/pg`, `file:///srv/www#/index.html` is `/index.html` in a LocalBackend on
 *   `/srv/www`. Everything after the first `#` is the path, taken literally (so it may hold `?` and `#`).
 */
export function parseLocation(operand: string, options: ParseOptions = {}): Location {
  const cwd = options.cwd ?? process.cwd();
  if (typeof operand !== "string" || operand === "") invalid(String(operand), "an empty path");
  const scheme = schemeOf(operand);
  if (scheme === undefined) {
    const path = resolve(cwd, operand) + (operand.endsWith("/") && operand !== "/" ? "/" : "");
    return { url: "file:///", spec: { scheme: "file", rootDir: "/" }, path };
  }
  const hash = operand.indexOf("#");
  if (hash !== -1) {
    const base = operand.slice(0, hash);
    const path = operand.slice(hash + 1) || "/";
    if (!path.startsWith("/")) invalid(operand, "the path after '#' must start with '/'");
    return { url: base, spec: parseBackendUrl(base, { cwd }), path };
  }
  const { head, path, query } = authorityAndPath(operand);
  switch (scheme) {
    case "file": {
      const spec = parseBackendUrl(operand, { cwd });
      if (spec.scheme !== "file") throw new Error("unreachable");
      if (spec.history !== undefined) {
        invalid(operand, "history needs the root directory: write file:///dir?history=1#/path, not");
      }
      const dir = path.endsWith("/") && !spec.rootDir.endsWith("/") ? "/" : "";
      return { url: "file:///", spec: { scheme: "file", rootDir: "/" }, path: spec.rootDir + dir };
    }
    case "postgres":
    case "postgresql": {
      const segments = path.replace(/^\/+/, "").split("/");
      const database = segments.shift() ?? "";
      const url = `${head}/${database}${query}`;
      return { url, spec: parseBackendUrl(url, { cwd }), path: join("/", segments.join("/")) };
    }
    case "pglite": {
      return { url: operand, spec: parseBackendUrl(operand, { cwd }), path: "/" };
    }
    case "s3":
    case "docker":
    case "memory": {
      const url = `${head}${query}`;
      return { url, spec: parseBackendUrl(url, { cwd }), path: join("/", path) };
    }
    default:
      return { url: operand, spec: parseBackendUrl(operand, { cwd }), path: "/" };
  }
}
