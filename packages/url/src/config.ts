import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { CompositeBackend, type CompositeRoutes, DeepfsError } from "@deepfs/core";
import { secretsOf } from "./mask.js";
import { type OpenedBackend, openSpec } from "./open.js";
import { type ParseOptions, parseBackendUrl } from "./parse.js";
import type { BackendSpec, DeepfsConfig } from "./spec.js";

/** The usual name of a config file. */
export const CONFIG_FILE_NAME = "deepfs.config.json";

function invalid(where: string, problem: string): never {
  throw new DeepfsError("invalid_argument", `${where}: ${problem}`);
}

/** A config whose shape is checked: a default URL and routes of URLs, nothing else. */
export function checkConfig(value: unknown, where = "deepfs config"): DeepfsConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(where, 'expected an object like { "default": "memory:", "routes": { "/project/": "./workspace" } }');
  }
  const { default: defaultUrl, routes, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest).filter((key) => key !== "$schema");
  if (unknown.length > 0) invalid(where, `unknown key '${unknown[0]}' (known: default, routes)`);
  if (defaultUrl !== undefined && typeof defaultUrl !== "string") invalid(where, '"default" must be a URL string');
  const config: DeepfsConfig = {};
  if (defaultUrl !== undefined) config.default = defaultUrl;
  if (routes === undefined) return config;
  if (typeof routes !== "object" || routes === null || Array.isArray(routes)) {
    invalid(where, '"routes" must map mount points to URLs');
  }
  config.routes = {};
  for (const [mount, route] of Object.entries(routes)) {
    if (!mount.startsWith("/")) invalid(where, `route '${mount}' must be an absolute path such as /project/`);
    if (typeof route === "string") {
      config.routes[mount] = route;
      continue;
    }
    const { url, readOnly, ...extra } = (route ?? {}) as Record<string, unknown>;
    if (typeof route !== "object" || route === null || typeof url !== "string") {
      invalid(where, `route '${mount}' must be a URL or { "url": URL, "readOnly": true }`);
    }
    if (Object.keys(extra).length > 0) invalid(where, `route '${mount}' has an unknown key '${Object.keys(extra)[0]}'`);
    if (readOnly !== undefined && typeof readOnly !== "boolean") {
      invalid(where, `route '${mount}': readOnly must be true or false`);
    }
    config.routes[mount] = readOnly === undefined ? { url } : { url, readOnly };
  }
  return config;
}

/** Reads and checks a `deepfs.config.json`. Relative paths in its URLs resolve against the file's directory. */
export async function loadConfigFile(file: string): Promise<{ config: DeepfsConfig; baseDir: string }> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new DeepfsError(
      code === "ENOENT" ? "file_not_found" : "permission_denied",
      `cannot read the config file ${path} (${code ?? "unknown error"})`,
      { cause: error },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's text, which may hold a password: say where, not what.
    throw new DeepfsError("invalid_argument", `the config file ${path} is not valid JSON`);
  }
  return { config: checkConfig(value, path), baseDir: dirname(path) };
}

/** Every secret in a config's URLs (to scrub from messages that might echo one). */
export function configSecrets(config: DeepfsConfig): string[] {
  const urls = [
    config.default ?? "",
    ...Object.values(config.routes ?? {}).map((r) => (typeof r === "string" ? r : r.url)),
  ];
  return urls.flatMap((url) => secretsOf(url));
}

/**
 * Opens every backend of a config and routes them through one `CompositeBackend` (read-only routes
 * answer every mutation with `read_only`). The result's `close()` closes every member, which the
 * router itself never does. When one member fails to open, those already open are closed again.
 */
export async function openConfig(config: DeepfsConfig, options: ParseOptions = {}): Promise<OpenedBackend> {
  const checked = checkConfig(config);
  const members: OpenedBackend[] = [];
  const closeAll = async () => {
    await Promise.allSettled(members.map((member) => member.close()));
  };
  try {
    const open = async (url: string): Promise<OpenedBackend> => {
      const member = await openSpec(parseBackendUrl(url, options));
      members.push(member);
      return member;
    };
    const main = await open(checked.default ?? "memory:");
    const routes: CompositeRoutes = {};
    const labels = [`default ${main.label}`];
    for (const [mount, route] of Object.entries(checked.routes ?? {})) {
      const { url, readOnly = false } = typeof route === "string" ? { url: route } : route;
      const member = await open(url);
      routes[mount] = { backend: member.backend, readOnly };
      labels.push(`${mount} ${member.label}${readOnly ? " (read-only)" : ""}`);
    }
    const backend = new CompositeBackend({ default: main.backend, routes });
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= closeAll();
      return closing;
    };
    return { backend, label: labels.join(", "), close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Opens a backend from a URL, a parsed {@link BackendSpec}, or a {@link DeepfsConfig} (a composite).
 * The backend package is imported only then, so an app installs only the backends it uses; a
 * missing one is named in the error. Close the result when done (`close()` or `await using`).
 */
export async function openBackend(
  target: string | BackendSpec | DeepfsConfig,
  options: ParseOptions = {},
): Promise<OpenedBackend> {
  if (typeof target === "string") return openSpec(parseBackendUrl(target, options));
  if (typeof target === "object" && target !== null && "scheme" in target) return openSpec(target);
  return openConfig(target as DeepfsConfig, options);
}
