/**
 * `pnpm demo`: a deep agent (`createDeepAgent` from `deepagents`) works through a `CompositeBackend`
 * built only from embedded defaults, so it needs no server and no API key:
 *
 * | path          | backend                                 | where the files are                          |
 * |---------------|-----------------------------------------|----------------------------------------------|
 * | `/` (default) | `StateBackend`                          | the run's state, per thread (scratch)        |
 * | `/project/`   | `LocalBackend`                          | `examples/.demo/project` on disk             |
 * | `/memories/`  | `PostgresBackend.embedded()` (PGlite)   | `examples/.demo/pgdata`, one row per file    |
 *
 * The agent is a scripted, offline tool-calling model that still reacts to what it sees: it lists
 * `/memories/`, and records this visit in `/memories/visits.md` (creating it on the first run,
 * reading and editing it on later runs). Then it writes and edits project files and scratch notes,
 * and searches all three backends at once. The demo prints every tool call, where each file landed,
 * and, after closing everything, reopens the database to read the memory back.
 *
 * With `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` set, a real model does the same task (install
 * `@langchain/openai` or `@langchain/anthropic` first; `DEEPFS_DEMO_MODEL` picks the model;
 * `DEEPFS_DEMO_SCRIPTED=1` keeps the scripted one). `DEEPFS_DEMO_DIR` moves the state directory.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CompositeBackend, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { createDeepAgent } from "deepagents";
import { runIfMain } from "./lib/run-main.js";
import { lastToolResult, type ScriptStep, scriptedModel, textOf, toolCallsOf } from "./lib/scripted-model.js";

/** Options of {@link main}. */
export interface DemoOptions {
  /** Where the project directory and the database live. Default `DEEPFS_DEMO_DIR` or `examples/.demo`. */
  stateDir?: string;
  /** `scripted` always uses the offline model; `auto` uses a real one when an API key is set. Default `auto`. */
  model?: "scripted" | "auto";
  /** Receives every line the demo prints. Default `console.log`. */
  log?: (line: string) => void;
}

/** One tool call of the agent and the first line of what it got back. */
export interface DemoToolCall {
  name: string;
  args: Record<string, unknown>;
  result: string;
}

/** Where one file the agent can see is stored. */
export interface DemoFile {
  path: string;
  backend: "StateBackend" | "LocalBackend" | "PostgresBackend";
  /** The real path on disk, the PostgreSQL row, or "memory". */
  location: string;
}

/** What {@link main} returns. */
export interface DemoSummary {
  /** Which visit this was: the number of runs recorded in `/memories/visits.md`. */
  run: number;
  model: string;
  toolCalls: DemoToolCall[];
  files: DemoFile[];
  /** `/memories/visits.md` as a fresh PostgresBackend on the same data directory reads it. */
  memoriesAfterRestart: string;
  projectDir: string;
  pgDataDir: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const PROMPT =
  "Check /memories/ for visits.md. If it exists, read it and add a line '- run N: <time>' right below " +
  "'# Visits' (N = one more than the runs listed); otherwise create it with '# Visits' and '- run 1: <time>'. " +
  "Then write /project/src/greet.py with a greet(name) function, edit it to return a greeting, write a " +
  "plan to /scratch/plan.md with one TODO, list every .md and .py file, and grep for TODO.";

const GREET_DRAFT = "def greet(name):\n    # TODO: say hello\n    return None\n";
const PLAN = "# Plan\n- [x] write src/greet.py\n- [ ] TODO: add a test for greet()\n";

/**
 * The offline agent's script. The first steps react to what the tools returned: the memory file is
 * created on the first run, and read and extended on later runs.
 */
function demoScript(now: string): ScriptStep[] {
  return [
    { name: "ls", args: { path: "/memories/" } },
    (messages) => {
      const listing = lastToolResult(messages);
      return listing && textOf(listing).includes("/memories/visits.md")
        ? { name: "read_file", args: { file_path: "/memories/visits.md" } }
        : null;
    },
    (messages) => {
      const last = lastToolResult(messages);
      if (last?.name === "read_file") {
        const run = (textOf(last).match(/- run \d+/g) ?? []).length + 1;
        return {
          name: "edit_file",
          args: {
            file_path: "/memories/visits.md",
            old_string: "# Visits\n",
            new_string: `# Visits\n- run ${run}: ${now}\n`,
          },
        };
      }
      return { name: "write_file", args: { file_path: "/memories/visits.md", content: `# Visits\n- run 1: ${now}\n` } };
    },
    { name: "write_file", args: { file_path: "/project/src/greet.py", content: GREET_DRAFT } },
    {
      name: "edit_file",
      args: {
        file_path: "/project/src/greet.py",
        old_string: "    # TODO: say hello\n    return None",
        new_string: '    return f"Hello, {name}!"',
      },
    },
    { name: "write_file", args: { file_path: "/scratch/plan.md", content: PLAN } },
    { name: "glob", args: { pattern: "**/*.{md,py}", path: "/" } },
    { name: "grep", args: { pattern: "TODO", path: "/" } },
  ];
}

/** A real chat model when an API key is set (and the integration package is installed). */
async function realModel(): Promise<{ model: BaseChatModel; name: string } | null> {
  if (process.env.DEEPFS_DEMO_SCRIPTED === "1") return null;
  const choice = process.env.OPENAI_API_KEY
    ? { pkg: "@langchain/openai", cls: "ChatOpenAI", model: process.env.DEEPFS_DEMO_MODEL ?? "gpt-4.1-mini" }
    : process.env.ANTHROPIC_API_KEY
      ? {
          pkg: "@langchain/anthropic",
          cls: "ChatAnthropic",
          model: process.env.DEEPFS_DEMO_MODEL ?? "claude-haiku-4-5",
        }
      : null;
  if (!choice) return null;
  let module: Record<string, new (fields: { model: string }) => BaseChatModel>;
  try {
    // A variable specifier: the integration packages are not dependencies of the examples.
    const specifier: string = choice.pkg;
    module = await import(specifier);
  } catch (error) {
    throw new Error(
      `An API key is set, so the demo wants ${choice.pkg}: pnpm --filter @deepfs/examples add ${choice.pkg}`,
      {
        cause: error,
      },
    );
  }
  const Model = module[choice.cls] as new (fields: { model: string }) => BaseChatModel;
  return { model: new Model({ model: choice.model }), name: `${choice.pkg} ${choice.model}` };
}

/** Tool arguments on one line, long strings cut short. */
function shortArgs(args: Record<string, unknown>): string {
  return JSON.stringify(args, (_key, value: unknown) =>
    typeof value === "string" && value.length > 28 ? `${value.slice(0, 27)}…` : value,
  );
}

/** A tool result on one line: its first lines joined with ` | `. */
function shortResult(text: string, maxLines = 3): string {
  const lines = text
    .trim()
    .split("\n")
    .map((line) => line.trim());
  const shown = lines.slice(0, maxLines).join(" | ");
  return lines.length > maxLines ? `${shown} | (+${lines.length - maxLines} more)` : shown;
}

/** Runs the demo once; a second call on the same state directory sees the first one's memory. */
export async function main(options: DemoOptions = {}): Promise<DemoSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const stateDir = resolve(options.stateDir ?? process.env.DEEPFS_DEMO_DIR ?? join(here, ".demo"));
  const projectDir = join(stateDir, "project");
  const pgDataDir = join(stateDir, "pgdata");
  mkdirSync(projectDir, { recursive: true });
  mkdirSync(pgDataDir, { recursive: true });

  log("deepfs demo: one agent, three backends");
  log(`  /           StateBackend     the run's state (per thread)`);
  log(`  /project/   LocalBackend     ${projectDir}`);
  log(`  /memories/  PostgresBackend  embedded PostgreSQL (PGlite), data in ${pgDataDir}`);
  log("starting embedded PostgreSQL…");

  const scratch = new StateBackend();
  const project = new LocalBackend({ rootDir: projectDir });
  const memories = await PostgresBackend.embedded({ dataDir: pgDataDir });
  const toolCalls: DemoToolCall[] = [];
  const files: DemoFile[] = [];
  let modelName = "scripted (offline)";
  try {
    const backend = new CompositeBackend(scratch, { "/project/": project, "/memories/": memories });
    const real = options.model === "scripted" ? null : await realModel();
    if (real) modelName = real.name;
    const model =
      real?.model ??
      scriptedModel(
        demoScript(new Date().toISOString()),
        "Done: visit recorded in /memories/visits.md, greet.py written, plan noted.",
      );
    log(`model: ${modelName}\n`);

    const agent = createDeepAgent({ model, backend });
    const state = await agent.invoke({ messages: [new HumanMessage(PROMPT)] }, { recursionLimit: 60 });
    const messages = state.messages as BaseMessage[];

    for (const call of toolCallsOf(messages)) {
      const entry = { name: call.name, args: call.args, result: shortResult(call.result) };
      toolCalls.push(entry);
      log(`→ ${call.name} ${shortArgs(call.args)}`);
      log(`  ← ${entry.result}`);
    }
    const final = messages.at(-1);
    if (final) log(`\nagent: ${shortResult(textOf(final))}`);

    // Where did each file land? Ask the router for everything, then each member for its part. The
    // StateBackend's files are in the run's state (the thread's `files`), which the run returned.
    const all = await backend.glob("**/*", "/");
    const paths = [...(all.files ?? []).map((info) => info.path), ...Object.keys(state.files ?? {})].sort();
    log("\nwhere the files landed:");
    for (const path of paths) {
      const file = await locate(path, { projectDir, memories });
      files.push(file);
      log(`  ${file.path.padEnd(24)} ${file.backend.padEnd(16)} ${file.location}`);
    }
  } finally {
    // The router creates nothing; close what we opened (PGlite would otherwise keep Node alive).
    await project.close();
    await memories.close();
  }

  // A fresh backend on the same data directory, as the next process would open it.
  log("\nclosed every backend; reopening the embedded database to read /memories/ back…");
  const reopened = await PostgresBackend.embedded({ dataDir: pgDataDir });
  let memoriesAfterRestart: string;
  try {
    const read = await reopened.read("/visits.md");
    if (read.error !== undefined) throw new Error(`reading /visits.md back failed: ${read.error}`);
    memoriesAfterRestart = String(read.content);
  } finally {
    await reopened.close();
  }
  const run = (memoriesAfterRestart.match(/- run \d+/g) ?? []).length;
  log(`/memories/visits.md after the restart:\n${memoriesAfterRestart.replace(/^/gm, "  | ")}`);
  log(
    run > 1
      ? `\nrun ${run}: the agent found the memory of ${run - 1} earlier run(s). /scratch/ is gone, as memory should be.`
      : "\nrun 1: run `pnpm demo` again and the agent will find this memory.",
  );
  return { run, model: modelName, toolCalls, files, memoriesAfterRestart, projectDir, pgDataDir };
}

async function locate(path: string, members: { projectDir: string; memories: PostgresBackend }): Promise<DemoFile> {
  if (path.startsWith("/project/")) {
    const onDisk = join(members.projectDir, path.slice("/project/".length));
    const size = existsSync(onDisk) ? `${statSync(onDisk).size} bytes` : "missing!";
    return { path, backend: "LocalBackend", location: `${onDisk} (${size})` };
  }
  if (path.startsWith("/memories/")) {
    // The router strips the mount point: the row's path is the part below /memories/.
    const inner = path.slice("/memories".length);
    const { schema, table } = members.memories.location;
    const row = await members.memories.readRaw(inner);
    const version = row.etag === undefined ? "missing!" : `version ${row.etag}`;
    return {
      path,
      backend: "PostgresBackend",
      location: `row (namespace '${members.memories.namespace}', path '${inner}') of ${schema}.${table}, ${version}`,
    };
  }
  return { path, backend: "StateBackend", location: "the run's state (result.files)" };
}

runIfMain(import.meta.url, () => main().then(() => undefined));
