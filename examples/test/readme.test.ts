// Every TypeScript block of the README files is type-checked against the real packages, so the
// documentation cannot drift from the API. Blocks are fragments: the test supplies the imports a
// block leaves out and declares the free names it uses (`model`, or the backends of a routing table).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..");
const repo = join(examples, "..");
const READMES = [
  "README.md",
  ...[
    "core",
    "conformance",
    "local",
    "postgres",
    "s3",
    "docker",
    "tools",
    "ai-sdk",
    "openai-agents",
    "telemetry",
    "mastra",
  ].map((p) => `packages/${p}/README.md`),
];

const IMPORTS = `import { CompositeBackend, StateBackend } from "@deepfs/core";
import { DockerSandbox } from "@deepfs/docker";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { S3Backend } from "@deepfs/s3";
import { createDeepAgent } from "deepagents";
`;
/** Names a block may use without defining them. */
const FREE: Record<string, string> = {
  model: 'import("@langchain/core/language_models/chat_models").BaseChatModel',
  local: 'import("@deepfs/local").LocalBackend',
  vendor: 'import("@deepfs/core").BackendProtocol',
  memories: 'import("@deepfs/postgres").PostgresBackend',
  myS3Client: 'import("@aws-sdk/client-s3").S3Client',
};

function blocksOf(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

function moduleFor(block: string): string {
  // Blocks import the custom backend of the examples by a relative path of their own.
  let code = block.replace(/from "\.{1,2}\/[\w/.-]*(custom|map)-backend\.js"/g, 'from "../custom-backend.js"');
  if (!/^import /m.test(code)) code = IMPORTS + code;
  const declared = (name: string) =>
    new RegExp(`\\b(const|let|class|function)\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b`).test(code);
  const free = Object.entries(FREE)
    .filter(([name]) => new RegExp(`\\b${name}\\b`).test(code) && !declared(name))
    .map(([name, type]) => `declare const ${name}: ${type};`);
  return `${code}\n${free.join("\n")}\nexport {};\n`;
}

const checkDir = join(examples, ".readme-check");
afterAll(() => rmSync(checkDir, { recursive: true, force: true }));

it("every ```ts block of the README files type-checks", () => {
  rmSync(checkDir, { recursive: true, force: true });
  mkdirSync(checkDir);
  const files: string[] = [];
  for (const readme of READMES) {
    blocksOf(readFileSync(join(repo, readme), "utf8")).forEach((block, i) => {
      const name = `${readme.replace(/[/.]/g, "_")}-${i + 1}.ts`;
      writeFileSync(join(checkDir, name), moduleFor(block));
      files.push(name);
    });
  }
  expect(files.length).toBeGreaterThan(8);
  writeFileSync(
    join(checkDir, "tsconfig.json"),
    JSON.stringify({ extends: "../tsconfig.json", compilerOptions: { rootDir: ".." }, include: ["*.ts"] }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  let output = "";
  try {
    execFileSync(process.execPath, [tsc, "--noEmit", "-p", checkDir], { encoding: "utf8", cwd: examples });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  // Name the README a failing block came from.
  expect(output.replaceAll(`${relative(examples, checkDir)}/`, "")).toBe("");
}, 120_000);
