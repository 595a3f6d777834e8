// Release dry run: builds, packs every publishable package the way `pnpm release` publishes it, installs
// the tarballs from a fresh project outside the workspace (everything else comes from the npm registry)
// and proves there that each package imports under Node (ESM) and type-checks under TypeScript with
// `module`/`moduleResolution: nodenext`, `strict` and `skipLibCheck: false`.
//
//   node scripts/pack-check.mjs [--no-build] [--keep] [--node <version|path>]
//
// --no-build  skip `turbo run build` (the packages must be built already)
// --keep      keep the temp dirs and print where they are (to debug a failure)
// --node      the Node that installs, imports and type-checks the tarballs: a version (`22`, installed
//             by scripts/node-versions.mjs), a `node` binary or its directory. Default: the Node running this.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNode, nodeVersion } from "./node-versions.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const nodeIndex = argv.indexOf("--node");
const nodeArg = nodeIndex === -1 ? undefined : argv.splice(nodeIndex, 2)[1];
const args = new Set(argv);
const keep = args.has("--keep");
const started = Date.now();
const unknown = [...args].filter((arg) => !["--no-build", "--keep"].includes(arg));
if (unknown.length > 0 || (nodeIndex !== -1 && !nodeArg)) {
  console.error(`[pack-check] unknown arguments: ${[...unknown, ...(nodeArg ? [] : ["--node without a value"])]}`);
  process.exit(2);
}
/** Every child (pnpm, npm, node, tsc) finds this Node first on PATH. */
let childEnv;
try {
  childEnv = { ...process.env, PATH: [nodeBinDir(nodeArg), process.env.PATH].join(delimiter) };
} catch (error) {
  console.error(`[pack-check] ${error.message}`);
  process.exit(2);
}

/**
 * What each package must export, per subpath. A publishable package missing here is still packed,
 * installed and imported; one listed here that is no longer publishable fails the run.
 */
const EXPECTED_EXPORTS = {
  "@deepfs/core": {
    ".": [
      "StateBackend",
      "CompositeBackend",
      "BaseSandbox",
      "DeepfsError",
      "checkPath",
      "createGlobMatcher",
      "withPermissions",
      "withQuota",
      "withAudit",
      "auditToBackend",
    ],
  },
  "@deepfs/conformance": {
    ".": ["defineBackendContract", "createContractContext", "definePermissionContract"],
    "./agent": ["runAgentScenario", "expectedToolResults"],
    "./file-tools": ["defineFileToolsContract"],
    "./controls": ["ALLOWING_RULES", "GENEROUS_LIMITS", "allowingRules"],
  },
  "@deepfs/local": { ".": ["LocalBackend", "FilesystemBackend"] },
  "@deepfs/s3": { ".": ["S3Backend", "createS3Client"] },
  "@deepfs/postgres": { ".": ["PostgresBackend", "PostgresAuditTable"] },
  "@deepfs/docker": { ".": ["DockerSandbox", "RUNTIME_PRESETS"] },
  "@deepfs/langgraph": { ".": ["StoreBackend"], "./tools": ["historyTools"], "./middleware": ["deepfsHistory"] },
  "@deepfs/url": { ".": ["parseBackendUrl", "parseLocation", "maskUrl", "openBackend", "openConfig"] },
  "@deepfs/mcp": { ".": ["createMcpServer", "serveStdio", "serveHttp", "READ_TOOLS", "WRITE_TOOLS"] },
  "@deepfs/cli": { ".": ["run", "copy", "CliError"] },
  "@deepfs/telemetry": { ".": ["withTelemetry"] },
  "@deepfs/tools": { ".": ["createFileToolDefinitions", "FILE_TOOL_NAMES", "readFileInput", "errorText"] },
  "@deepfs/ai-sdk": { ".": ["createFileTools", "toSandboxSession"] },
  "@deepfs/openai-agents": { ".": ["createFileTools"] },
  "@deepfs/mastra": { ".": ["DeepfsFilesystem", "DeepfsFilesystemError", "toMastraError", "toBackendPath"] },
};
/** Classes the consumer's type check assigns to the deepfs and deepagents protocol types. */
const BACKEND_CLASSES = [
  ["@deepfs/core", "StateBackend"],
  ["@deepfs/core", "CompositeBackend"],
  ["@deepfs/local", "LocalBackend"],
  ["@deepfs/s3", "S3Backend"],
  ["@deepfs/postgres", "PostgresBackend"],
  ["@deepfs/langgraph", "StoreBackend"],
];
const SANDBOX_CLASSES = [["@deepfs/docker", "DockerSandbox"]];

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023"],
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    strict: true,
    noEmit: true,
    // Type-checks the shipped .d.ts files too: a public type naming a dev-only dependency fails here.
    skipLibCheck: false,
  },
  files: ["check.ts"],
};

/** Never shipped: tests, test config, build state. */
const FORBIDDEN_FILES = [
  /(^|\/)(test|tests|__tests__)\//,
  /\.(test|spec)\.[cm]?[jt]sx?$/,
  /(^|\/)vitest\.config\./,
  /(^|\/)tsconfig[^/]*\.json$/,
  /\.tsbuildinfo$/,
  /(^|\/)(\.turbo|node_modules)\//,
];

const tempDirs = [];
let child;
let interruptedBy;
for (const name of ["SIGINT", "SIGTERM"]) {
  process.on(name, () => {
    interruptedBy = name;
    child?.kill(name);
    // npm can take a while to stop; the temp dirs are only removed once the child is gone.
    setTimeout(() => child?.kill("SIGKILL"), 10_000).unref();
  });
}

let exitCode = 0;
try {
  await main();
  console.log(`[pack-check] ok in ${seconds(Date.now() - started)}`);
} catch (error) {
  exitCode = 1;
  console.error(`[pack-check] FAILED after ${seconds(Date.now() - started)}: ${error.message}`);
} finally {
  if (keep) console.log(`[pack-check] kept ${tempDirs.join(" ")}`);
  else for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
process.exit(interruptedBy ? (interruptedBy === "SIGINT" ? 130 : 143) : exitCode);

async function main() {
  const nodeBin = join(childEnv.PATH.split(delimiter)[0], "node");
  console.log(`[pack-check] Node ${nodeVersion(nodeBin) ?? "(does not run)"} (${nodeBin})`);
  const packages = publishablePackages();
  for (const name of Object.keys(EXPECTED_EXPORTS)) {
    if (!packages.some((pkg) => pkg.name === name)) throw new Error(`${name} is no longer a publishable package`);
  }
  if (!args.has("--no-build")) {
    const filters = packages.map((pkg) => `--filter=${pkg.name}`);
    await run("pnpm", ["exec", "turbo", "run", "build", "--output-logs=errors-only", ...filters], repoRoot);
  }

  const packDir = makeTempDir("deepfs-pack-");
  const problems = [];
  const warnings = [];
  for (const pkg of packages) {
    const out = await run("pnpm", ["pack", "--json", "--pack-destination", packDir], pkg.dir);
    const packed = parsePackJson(out, pkg.name);
    pkg.tarball = packed.filename;
    pkg.files = packed.files.map((file) => file.path);
    pkg.manifest = JSON.parse(await run("tar", ["-xzOf", pkg.tarball, "package/package.json"], packDir));
    pkg.size = packed.size ?? readFileSync(pkg.tarball).length;
    checkTarball(pkg, packages, problems, warnings);
    console.log(`[pack-check] ${pkg.name}@${pkg.manifest.version}: ${kib(pkg.size)} packed, ${pkg.files.length} files`);
  }
  for (const dep of new Set(warnings.map((warning) => warning.split(" ")[0]))) {
    const count = warnings.filter((warning) => warning.startsWith(`${dep} `)).length;
    console.log(
      `[pack-check] note: ${count} packed manifests list the unpublished ${dep} in devDependencies (npm ignores it)`,
    );
  }
  if (problems.length > 0) throw new Error(`tarball problems:\n  - ${problems.join("\n  - ")}`);

  const project = makeTempDir("deepfs-consumer-");
  for (let dir = dirname(project); ; dir = dirname(dir)) {
    // Node resolves bare imports through every ancestor's node_modules: one there would hide a missing dep.
    if (existsSync(join(dir, "node_modules"))) throw new Error(`${join(dir, "node_modules")} exists above ${project}`);
    if (dirname(dir) === dir) break;
  }
  const { required, optional } = peerDependencies(packages);
  const tooling = rootDevVersions(["typescript", "@types/node"]);
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "deepfs-pack-check", private: true, type: "module" }, null, 2)}\n`,
  );
  writeFileSync(join(project, "check.mjs"), runtimeCheck(packages));
  writeFileSync(join(project, "check.ts"), typeCheck(packages));
  writeFileSync(join(project, "tsconfig.json"), `${JSON.stringify(CONSUMER_TSCONFIG, null, 2)}\n`);

  // 1. Tarballs with their required peers only: every main entry must load without optional peers.
  let t = Date.now();
  await npmInstall(project, [...packages.map((pkg) => pkg.tarball), ...required, ...tooling]);
  console.log(`[pack-check] npm install (tarballs + ${required.join(", ")}): ${seconds(Date.now() - t)}`);
  const absentOptional = optional.filter((spec) => !existsSync(join(project, "node_modules", specName(spec))));
  console.log(
    `[pack-check] main entries without optional peers (${absentOptional.map(specName).join(", ") || "none absent"}):`,
  );
  console.log(indent(await run("node", ["check.mjs", "main"], project)));
  checkInstalledSourceMaps(project, packages);
  checkSingleCopies(project);
  checkImportsDeclared(project, packages);

  // 2. Optional peers too: every other subpath export, and the consumer's type check.
  t = Date.now();
  if (optional.length > 0) await npmInstall(project, optional);
  console.log(`[pack-check] npm install (optional peers ${optional.join(", ")}): ${seconds(Date.now() - t)}`);
  console.log(indent(await run("node", ["check.mjs", "subpaths"], project)));
  t = Date.now();
  const tsc = [join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--pretty", "false"];
  const { ours, theirs } = tscErrors(await run("node", tsc, project, { allowFailure: true }));
  const tsVersion = JSON.parse(readFileSync(join(project, "node_modules", "typescript", "package.json"), "utf8"));
  if (theirs.length > 0) {
    console.log(
      `[pack-check] note: tsc errors inside third-party declarations (not ours):\n${indent(theirs.join("\n"))}`,
    );
  }
  if (ours.length > 0)
    throw new Error(`tsc errors in check.ts or the deepfs declarations:\n${indent(ours.join("\n"))}`);
  console.log(
    `[pack-check] tsc ${tsVersion.version} (nodenext, strict, skipLibCheck: false) on check.ts: ok in ${seconds(Date.now() - t)}`,
  );
}

/**
 * Splits tsc diagnostics into ours (check.ts, node_modules/@deepfs/*, global) and third-party ones:
 * with `skipLibCheck: false` a dependency's own declarations may not compile (e.g. a DOM-only type),
 * which is no packaging fault of ours but is printed.
 */
function tscErrors(output) {
  const errors = [];
  for (const line of output.split("\n")) {
    if (!line.trim()) continue;
    if (/^\s/.test(line) && errors.length > 0) errors[errors.length - 1] += `\n${line}`;
    else errors.push(line);
  }
  const isTheirs = (error) => error.startsWith("node_modules/") && !error.startsWith("node_modules/@deepfs/");
  return { ours: errors.filter((error) => !isTheirs(error)), theirs: errors.filter(isTheirs) };
}

/** Every non-private package under packages/. */
function publishablePackages() {
  const root = join(repoRoot, "packages");
  const packages = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const file = join(root, entry.name, "package.json");
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, "utf8"));
    if (manifest.private) continue;
    packages.push({ name: manifest.name, version: manifest.version, dir: join(root, entry.name) });
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function parsePackJson(out, name) {
  const parsed = JSON.parse(out.slice(out.indexOf("{")));
  const packed = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!packed?.filename || !Array.isArray(packed.files)) throw new Error(`pnpm pack ${name}: unexpected --json output`);
  return packed;
}

/** Checks one tarball's file list and its packed (publish-time) package.json. */
function checkTarball(pkg, packages, problems, warnings) {
  const { manifest, files, name } = pkg;
  const has = new Set(files);
  for (const file of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts"]) {
    if (!has.has(file)) problems.push(`${name}: ${file} is not in the tarball`);
  }
  if (!files.some((file) => /^licen[cs]e(\.|$)/i.test(file))) {
    problems.push(`${name}: no LICENSE in the tarball (copy the root LICENSE into the package)`);
  }
  for (const file of files) {
    if (FORBIDDEN_FILES.some((pattern) => pattern.test(file))) problems.push(`${name}: ships ${file}`);
    // tsc never deletes outputs: a dist file without its source is left over from a removed module.
    const compiled = /^dist\/(.+)\.js$/.exec(file);
    if (compiled && !["ts", "mts", "tsx", "js"].some((ext) => has.has(`src/${compiled[1]}.${ext}`))) {
      problems.push(`${name}: ${file} has no source in src/ (stale build output: delete dist/ and rebuild)`);
    }
  }
  for (const target of exportTargets(manifest)) {
    if (!has.has(target)) problems.push(`${name}: package.json points at ${target}, which is not in the tarball`);
  }
  if (manifest.name !== pkg.name || manifest.version !== pkg.version) {
    problems.push(`${name}: packed package.json says ${manifest.name}@${manifest.version}`);
  }
  if (manifest.type !== "module") problems.push(`${name}: packed package.json lacks "type": "module"`);
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"]) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith("workspace:")) {
        problems.push(`${name}: ${field}.${dep} is still "${range}" (pnpm should have rewritten it)`);
      } else if (dep.startsWith("@deepfs/") && field !== "devDependencies") {
        const target = packages.find((other) => other.name === dep);
        if (!target) problems.push(`${name}: ${field}.${dep} is not a publishable package`);
        else if (![target.version, `^${target.version}`, `~${target.version}`].includes(range)) {
          problems.push(`${name}: ${field}.${dep} is "${range}", not ^${target.version}`);
        }
      } else if (dep.startsWith("@deepfs/") && !packages.some((other) => other.name === dep)) {
        warnings.push(`${dep} (${name})`);
      }
    }
  }
}

/** The files `main`, `types` and every `exports` condition point at, relative to the package root. */
function exportTargets(manifest) {
  const targets = new Set();
  const visit = (value) => {
    if (typeof value === "string") targets.add(value.replace(/^\.\//, ""));
    else if (value && typeof value === "object") for (const nested of Object.values(value)) visit(nested);
  };
  visit(manifest.exports);
  for (const field of ["main", "types", "typings", "module"]) if (manifest[field]) visit(manifest[field]);
  return [...targets].filter((target) => !target.includes("*"));
}

/** Source maps and declaration maps must point at files that were shipped (src/ is in `files`). */
function checkInstalledSourceMaps(project, packages) {
  const broken = [];
  for (const pkg of packages) {
    const installed = join(project, "node_modules", ...pkg.name.split("/"));
    for (const file of pkg.files.filter((path) => path.endsWith(".map"))) {
      const map = JSON.parse(readFileSync(join(installed, file), "utf8"));
      for (const source of map.sources ?? []) {
        const target = join(installed, dirname(file), map.sourceRoot ?? "", source);
        if (!target.startsWith(installed + sep) || !existsSync(target)) {
          broken.push(`${pkg.name}/${file} -> ${source}`);
        }
      }
    }
  }
  if (broken.length > 0)
    throw new Error(`source maps point at missing files:\n  - ${broken.slice(0, 20).join("\n  - ")}`);
  console.log("[pack-check] every source map and declaration map resolves to a shipped file");
}

/**
 * Every bare import in the shipped JS and declarations names a dependency or peer of that package: npm's
 * flat node_modules would otherwise hide an import that only works because a sibling brought it in.
 */
function checkImportsDeclared(project, packages) {
  const undeclared = [];
  // Static imports and re-exports are statements starting a line (`import … from "x"`, `export … from "x"`,
  // `import "x"`); dynamic ones are `import("x")`. A sentence in a string ("a version from 'deepfs log'")
  // is neither.
  const importPattern =
    /(?:^[ \t]*(?:import|export)\b[^;"'`]*?\bfrom\s*|^[ \t]*import\s+|\bimport\s*\(\s*)["']([^"'./][^"']*)["']/gm;
  for (const pkg of packages) {
    const { manifest } = pkg;
    const declared = new Set([
      manifest.name,
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const installed = join(project, "node_modules", ...pkg.name.split("/"));
    for (const file of pkg.files.filter((path) => /^dist\/.*\.(js|d\.ts)$/.test(path))) {
      // Comment lines are skipped: TSDoc examples import other packages.
      const code = readFileSync(join(installed, file), "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\*|\/\*|\/\/)/.test(line))
        .join("\n");
      for (const [, specifier] of code.matchAll(importPattern)) {
        if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
        const segments = specifier.split("/");
        const dep = specifier.startsWith("@") ? segments.slice(0, 2).join("/") : segments[0];
        if (!declared.has(dep)) undeclared.push(`${pkg.name}/${file} imports "${specifier}"`);
      }
    }
  }
  if (undeclared.length > 0) {
    throw new Error(`imports of undeclared packages (add them to dependencies):\n  - ${undeclared.join("\n  - ")}`);
  }
  console.log("[pack-check] every bare import in dist/ names a declared dependency or peer");
}

/** Every `@deepfs/*` in the tree must be the tarball itself, never a nested copy fetched from the registry. */
function checkSingleCopies(project) {
  const top = join(project, "node_modules");
  const nested = [];
  for (const entry of readdirSync(top)) {
    const owners = entry.startsWith("@") ? readdirSync(join(top, entry)).map((name) => `${entry}/${name}`) : [entry];
    for (const owner of owners) {
      if (existsSync(join(top, owner, "node_modules", "@deepfs"))) nested.push(`${owner}/node_modules/@deepfs`);
    }
  }
  if (nested.length > 0) throw new Error(`nested @deepfs copies (a dependency range misses the tarball): ${nested}`);
}

/** Peer dependency specs from the packed manifests, ranges of the same peer intersected. */
function peerDependencies(packages) {
  const ranges = new Map();
  const optionalNames = new Set();
  const requiredNames = new Set();
  for (const { manifest } of packages) {
    for (const [dep, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (dep.startsWith("@deepfs/")) continue;
      ranges.set(dep, [...(ranges.get(dep) ?? []), range]);
      if (manifest.peerDependenciesMeta?.[dep]?.optional) optionalNames.add(dep);
      else requiredNames.add(dep);
    }
  }
  const spec = (dep) => `${dep}@${[...new Set(ranges.get(dep))].join(" ")}`;
  return {
    required: [...requiredNames].sort().map(spec),
    optional: [...optionalNames]
      .filter((dep) => !requiredNames.has(dep))
      .sort()
      .map(spec),
  };
}

/** The consumer type-checks with the repo's own TypeScript and Node types. */
function rootDevVersions(names) {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
  return names.map((name) => {
    const range = manifest.devDependencies?.[name];
    if (!range) throw new Error(`root package.json has no devDependencies.${name}`);
    return `${name}@${range}`;
  });
}

function npmInstall(project, specs) {
  // No install scripts: nothing deepfs uses needs one, and they only cost time here.
  const flags = ["--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "--loglevel=error"];
  return run("npm", ["install", ...flags, ...specs], project);
}

function specifiers(packages) {
  const list = [];
  for (const { name, manifest } of packages) {
    const subpaths =
      typeof manifest.exports === "object" && manifest.exports && !Array.isArray(manifest.exports)
        ? Object.keys(manifest.exports).filter((key) => key.startsWith("."))
        : ["."];
    for (const subpath of subpaths) {
      if (subpath === "./package.json" || subpath.includes("*")) continue;
      const names = EXPECTED_EXPORTS[name]?.[subpath] ?? [];
      list.push({ specifier: subpath === "." ? name : `${name}/${subpath.slice(2)}`, main: subpath === ".", names });
    }
  }
  return list;
}

/** check.mjs: `main` imports every main entry and round-trips files; `subpaths` imports the rest. */
function runtimeCheck(packages) {
  const names = new Set(packages.map((pkg) => pkg.name));
  return `import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const specs = ${JSON.stringify(specifiers(packages))};
const phase = process.argv[2];
for (const { specifier, main, names } of specs.filter((spec) => spec.main === (phase === "main"))) {
  const module = await import(specifier);
  const exported = Object.keys(module);
  assert.ok(exported.length > 0, \`\${specifier} exports nothing\`);
  for (const name of names) assert.notEqual(module[name], undefined, \`\${specifier} does not export \${name}\`);
  console.log(\`import \${specifier}: \${exported.length} exports\${names.length ? \`, has \${names.join(", ")}\` : ""}\`);
}

if (phase === "main") {
  const { CompositeBackend, StateBackend } = await import("@deepfs/core");
  const text = "written through the packed tarballs\\n";
  const memories = new StateBackend();
  const routes = { "/memories/": memories };
  const workspace = mkdtempSync(join(tmpdir(), "deepfs-consumer-local-"));
  ${names.has("@deepfs/local") ? 'routes["/project/"] = new (await import("@deepfs/local")).LocalBackend({ rootDir: workspace });' : ""}
  ${names.has("@deepfs/langgraph") ? 'routes["/store/"] = new (await import("@deepfs/langgraph")).StoreBackend({ store: new (await import("@langchain/langgraph")).InMemoryStore(), namespace: ["pack-check"] });' : ""}
  const backend = new CompositeBackend(new StateBackend(), routes);
  try {
    for (const prefix of ["/", ...Object.keys(routes)]) {
      const path = \`\${prefix}hello.txt\`;
      const written = await backend.write(path, text);
      assert.equal(written.error, undefined, \`write \${path}: \${written.error}\`);
      const read = await backend.read(path);
      assert.equal(read.error, undefined, \`read \${path}: \${read.error}\`);
      assert.ok(String(read.content).includes(text.trim()), \`read \${path} returned \${JSON.stringify(read.content)}\`);
    }
    const direct = await memories.read("/hello.txt");
    assert.ok(String(direct.content).includes(text.trim()), "the /memories/ route did not strip its prefix");
    if (routes["/project/"]) assert.equal(readFileSync(join(workspace, "hello.txt"), "utf8"), text);
    const listing = await backend.ls("/");
    assert.equal(listing.error, undefined, \`ls /: \${listing.error}\`);
    console.log(\`CompositeBackend round trip through \${["/", ...Object.keys(routes)].join(", ")}: ok\`);
  } finally {
    await backend.close?.();
    for (const route of Object.values(routes)) await route.close?.();
    rmSync(workspace, { recursive: true, force: true });
  }
}
`;
}

/** check.ts: imports every subpath with its types and assigns each backend to the protocol types. */
function typeCheck(packages) {
  const specs = specifiers(packages);
  const alias = new Map(specs.map(({ specifier }, index) => [specifier, `m${index}`]));
  const names = new Set(packages.map((pkg) => pkg.name));
  const core = alias.get("@deepfs/core");
  const lines = [
    "// Generated by scripts/pack-check.mjs: a consumer's view of the packed packages.",
    ...specs.map(({ specifier }) => `import * as ${alias.get(specifier)} from "${specifier}";`),
    'import type { BackendProtocolV2, SandboxBackendProtocolV2 } from "deepagents";',
    "",
    "export const exportsUsed = [",
    ...specs.flatMap(({ specifier, names }) => names.map((name) => `  ${alias.get(specifier)}.${name},`)),
    "];",
    "",
    `type IsBackend<T extends ${core}.BackendProtocol & BackendProtocolV2> = T;`,
    `type IsSandbox<T extends ${core}.SandboxBackendProtocol & SandboxBackendProtocolV2> = T;`,
    "export type Backends = [",
    ...BACKEND_CLASSES.filter(([pkg]) => names.has(pkg)).map(
      ([pkg, cls]) => `  IsBackend<InstanceType<typeof ${alias.get(pkg)}.${cls}>>,`,
    ),
    ...SANDBOX_CLASSES.filter(([pkg]) => names.has(pkg)).map(
      ([pkg, cls]) => `  IsSandbox<InstanceType<typeof ${alias.get(pkg)}.${cls}>>,`,
    ),
    "];",
    "",
    "export async function roundTrip(): Promise<string | undefined> {",
    `  const backend: ${core}.BackendProtocol = new ${core}.CompositeBackend(new ${core}.StateBackend(), {`,
    `    "/memories/": { backend: new ${core}.StateBackend(), readOnly: false },`,
    "  });",
    `  const written: ${core}.WriteResult = await backend.write("/memories/a.txt", "text");`,
    `  const read: ${core}.ReadResult = await backend.read("/memories/a.txt");`,
    "  return written.etag ?? read.etag;",
    "}",
    "",
    // The framework adapters, typed against their framework installed as a (required) peer.
    ...(names.has("@deepfs/ai-sdk")
      ? [
          `export const aiSdkTools: import("ai").ToolSet = ${alias.get("@deepfs/ai-sdk")}.createFileTools(new ${core}.StateBackend(), { readOnly: true });`,
          "",
        ]
      : []),
    ...(names.has("@deepfs/openai-agents")
      ? [
          "export async function openAiAgent() {",
          '  const { Agent } = await import("@openai/agents");',
          `  const tools = ${alias.get("@deepfs/openai-agents")}.createFileTools(new ${core}.StateBackend(), { only: ["read_file", "grep"] });`,
          '  return new Agent({ name: "files", instructions: "Answer from the files.", tools });',
          "}",
          "",
        ]
      : []),
    ...(names.has("@deepfs/mastra")
      ? [
          "export async function mastraWorkspace() {",
          '  const { Workspace } = await import("@mastra/core/workspace");',
          `  const filesystem: import("@mastra/core/workspace").WorkspaceFilesystem = new ${alias.get("@deepfs/mastra")}.DeepfsFilesystem({ backend: new ${core}.StateBackend() });`,
          "  return new Workspace({ filesystem });",
          "}",
          "",
        ]
      : []),
  ];
  return lines.join("\n");
}

function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  if (!relative(repoRoot, dir).startsWith("..")) throw new Error(`temp dir ${dir} is inside the repository`);
  return dir;
}

/**
 * Runs a command and returns its stdout (stdout + stderr with `allowFailure`, which accepts any exit code);
 * otherwise a failure throws with everything the command printed.
 */
function run(command, commandArgs, cwd, { allowFailure = false } = {}) {
  if (interruptedBy) return Promise.reject(new Error(`interrupted by ${interruptedBy}`));
  return new Promise((resolvePromise, reject) => {
    let stdout = "";
    let stderr = "";
    child = spawn(command, commandArgs, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", (error) => reject(new Error(`${command}: ${error.message}`)));
    child.once("close", (code, signal) => {
      if (allowFailure && code !== null) return resolvePromise(stdout + stderr);
      if (code === 0) return resolvePromise(stdout);
      const where = relative(repoRoot, cwd).startsWith("..") ? cwd : relative(repoRoot, cwd) || ".";
      reject(
        new Error(
          `\`${command} ${commandArgs.join(" ")}\` in ${where} exited with ${code ?? signal}\n${indent(stdout + stderr)}`,
        ),
      );
    });
  });
}

/** The directory of the Node that `--node` names (a version, a binary or its directory), else this one's. */
function nodeBinDir(value) {
  if (value === undefined) return dirname(process.execPath);
  if (/^\d+(\.\d+){0,2}$/.test(value)) return ensureNode(value);
  // Children run `node` through PATH, so a binary must be called `node`.
  const path = resolve(value);
  if (existsSync(join(path, "node"))) return path;
  if (basename(path) === "node" && existsSync(path) && !statSync(path).isDirectory()) return dirname(path);
  throw new Error(`--node ${value}: neither a Node version nor a \`node\` binary or its directory`);
}

function specName(spec) {
  return spec.slice(0, spec.indexOf("@", 1));
}

function indent(text) {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => `    ${line}`)
    .join("\n");
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
