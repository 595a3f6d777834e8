import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  type BackendProtocol,
  CompositeBackend,
  type CompositeRoutes,
  DeepfsError,
  type PermissionAsk,
  type PermissionOptions,
  type QuotaLimits,
  StateBackend,
  withPermissions,
  withQuota,
} from "@deepfs/core";
import { secretsOf } from "./mask.js";
import { type OpenedBackend, openSpec } from "./open.js";
import { type ParseOptions, parseBackendUrl } from "./parse.js";
import type { BackendSpec, ConfigRoute, DeepfsConfig } from "./spec.js";

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
  const { default: defaultUrl, routes, permissions, quota, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest).filter((key) => key !== "$schema");
  if (unknown.length > 0) invalid(where, `unknown key '${unknown[0]}' (known: default, routes, permissions, quota)`);
  if (defaultUrl !== undefined && typeof defaultUrl !== "string") invalid(where, '"default" must be a URL string');
  const config: DeepfsConfig = {};
  if (defaultUrl !== undefined) config.default = defaultUrl;
  if (permissions !== undefined) {
    checkedLayer(where, "permissions", () => withPermissions(new StateBackend(), permissions as PermissionOptions));
    config.permissions = permissions as NonNullable<DeepfsConfig["permissions"]>;
  }
  if (quota !== undefined) config.quota = checkedQuota(where, "quota", quota);
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
    const { url, readOnly, quota: routeQuota, ...extra } = (route ?? {}) as Record<string, unknown>;
    if (typeof route !== "object" || route === null || typeof url !== "string") {
      invalid(where, `route '${mount}' must be a URL or { "url": URL, "readOnly": true, "quota": {...} }`);
    }
    if (Object.keys(extra).length > 0) invalid(where, `route '${mount}' has an unknown key '${Object.keys(extra)[0]}'`);
    if (readOnly !== undefined && typeof readOnly !== "boolean") {
      invalid(where, `route '${mount}': readOnly must be true or false`);
    }
    const checked: Exclude<ConfigRoute, string> = { url };
    if (readOnly !== undefined) checked.readOnly = readOnly;
    if (routeQuota !== undefined) checked.quota = checkedQuota(where, `route '${mount}': quota`, routeQuota);
    config.routes[mount] = checked;
  }
  return config;
}

/** Runs a layer's own validation of `what` (its constructor), naming where the config is wrong. */
function checkedLayer(where: string, what: string, build: () => unknown): void {
  try {
    build();
  } catch (error) {
    invalid(where, `${what}: ${(error as Error).message}`);
  }
}

function checkedQuota(where: string, what: string, value: unknown): QuotaLimits {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(where, `${what} must be an object like { "maxBytes": 1000000, "maxFiles": 1000 }`);
  }
  checkedLayer(where, what, () => withQuota(new StateBackend(), value as QuotaLimits));
  return value as QuotaLimits;
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

/** Options of {@link openConfig}: those of URLs, and the approval callback of the config's `ask` rules. */
export interface OpenConfigOptions extends ParseOptions {
  /** Asked for each call an `ask` rule covers; without it, `ask` refuses. */
  onAsk?: PermissionAsk;
}

/**
 * Opens every backend of a config and routes them through one `CompositeBackend` (read-only routes
 * answer every mutation with `read_only`). The result's `close()` closes every member, which the
 * router itself never does. When one member fails to open, those already open are closed again.
 */
export async function openConfig(config: DeepfsConfig, options: OpenConfigOptions = {}): Promise<OpenedBackend> {
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
      const { url, readOnly = false, quota } = typeof route === "string" ? { url: route, quota: undefined } : route;
      const member = await open(url);
      routes[mount] = { backend: quota ? withQuota(member.backend, quota) : member.backend, readOnly };
      labels.push(`${mount} ${member.label}${readOnly ? " (read-only)" : ""}${quota ? " (quota)" : ""}`);
    }
    // Quota over the whole composite, then the rules on the caller's paths outermost.
    let backend: BackendProtocol = new CompositeBackend({ default: main.backend, routes });
    if (checked.quota) backend = withQuota(backend, checked.quota);
    if (checked.permissions) {
      backend = withPermissions(
        backend,
        options.onAsk ? { ...checked.permissions, onAsk: options.onAsk } : checked.permissions,
      );
    }
    if (checked.quota || checked.permissions) {
      labels.push([checked.quota && "quota", checked.permissions && "permission rules"].filter(Boolean).join(", "));
    }
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
