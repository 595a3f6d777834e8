import { secretsOf } from "@deepfs/url";
import { Command, CommanderError } from "commander";
import { examples, port, positiveInteger } from "./args.js";
import { cp, type TransferOptions } from "./commands/cp.js";
import { diff } from "./commands/diff.js";
import { cat, glob, ls, put, rm } from "./commands/files.js";
import { addHistoryCommands } from "./commands/history-commands.js";
import { mcp } from "./commands/mcp.js";
import { edit, grep } from "./commands/search.js";
import { type SyncOptions, sync } from "./commands/sync.js";
import { CliError, errorJson, formatError, toCliError } from "./errors.js";
import { Output, type Streams, terminalApproval, writeAll } from "./output.js";
import { isTerminal } from "./progress.js";
import { type GlobalOptions, Session, type SessionOptions, type Task } from "./session.js";
import { VERSION } from "./version.js";

const LOCATIONS = `
Locations (URL/path):
  ./notes.md, /srv/files/, file:///srv/files/     a path on this machine
  file:///srv/files?history=1#/a.md               /a.md in a LocalBackend on /srv/files keeping versions on disk
  s3://bucket/key/prefix/?endpoint=http://host:9000&region=us-east-1&path-style=1
                                                  the key in the bucket (credentials: AWS SDK chain)
  postgres://user:pass@host:5432/db/notes/a.md?namespace=acme&table=deepfs_files&schema=public
                                                  the path in database "db" (first segment)
  pglite:///data/pg#/notes/a.md                   embedded PostgreSQL at /data/pg, path after '#'
  docker:/workspace/?runtime=python-minimal        a fresh sandbox container, removed on exit
  docker://my-container/workspace/a.py            a running container (name or id), attached, never removed
  memory:/a.md                                    an empty in-memory store (for configs and tests);
                                                  memory:/a.md?history=1 keeps versions of its files
  URL#/path                                       '#' splits any URL: s3://bucket/tenant#/src/ is
                                                  /src/ in a backend rooted at prefix "tenant"
  With --config FILE, a path without a scheme (/project/a.ts) is a path of the config's composite.

Exit status: 0 success, 1 grep found nothing, 2 error (one line: code, path, hint).`;

/** The commander program; `setTask` receives the parsed command's work. */
function buildProgram(streams: Streams, setTask: (task: Task) => void): Command {
  const program = new Command("deepfs")
    .description("Files of any deepfs backend (local disk, S3, PostgreSQL, Docker, memory) from the command line.")
    .version(VERSION, "-V, --version")
    .option("--json", "print one machine-readable JSON document (errors too)")
    .option("-c, --config <file>", "a deepfs.config.json: paths without a scheme are paths of its composite")
    .option("-v, --verbose", "say which backends are opened (passwords masked) on stderr")
    .addHelpText("after", LOCATIONS)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      outputError: () => {},
    });

  program
    .command("ls")
    .description("list the direct children of a directory (directories end with '/')")
    .argument("[location]", "URL/path of a directory", ".")
    .option("-l, --long", "show size and modification time")
    .addHelpText("after", examples("deepfs ls s3://bucket/tenant/src/", "deepfs ls -l ./workspace"))
    .action((location: string, options: { long?: boolean }) => setTask((s, o) => ls(s, o, location, options)));

  program
    .command("cat")
    .description("write the exact bytes of files to stdout")
    .argument("<locations...>", "URL/path of each file")
    .addHelpText("after", examples("deepfs cat ./workspace/notes.md", "deepfs cat s3://bucket/logo.png > logo.png"))
    .action((locations: string[]) => setTask((s, o) => cat(s, o, locations)));

  program
    .command("put")
    .description("store stdin, byte for byte, as a file (created or replaced)")
    .argument("<location>", "URL/path of the file")
    .addHelpText("after", examples("deepfs put 'postgres://app@db/app/notes/todo.md?namespace=acme' < todo.md"))
    .action((location: string) => setTask((s, o) => put(s, o, location)));

  program
    .command("rm")
    .description("delete files (a directory and everything below it with -r)")
    .argument("<locations...>", "URL/path of each file or directory")
    .option("-r, --recursive", "delete directories with everything below them")
    .addHelpText("after", examples("deepfs rm ./workspace/old.md", "deepfs rm -r s3://bucket/tenant/tmp/"))
    .action((locations: string[], options: { recursive?: boolean }) => setTask((s, o) => rm(s, o, locations, options)));

  program
    .command("glob")
    .description("list files matching a glob pattern (** crosses directories) below a directory")
    .argument("<pattern>", "glob pattern, relative to the directory")
    .argument("[location]", "URL/path of the directory", ".")
    .addHelpText("after", examples("deepfs glob '**/*.ts' s3://bucket/tenant/src/"))
    .action((pattern: string, location: string) => setTask((s, o) => glob(s, o, pattern, location)));

  program
    .command("grep")
    .description("print lines containing a literal, case-sensitive string as path:line:text")
    .argument("<pattern>", "the literal text to find (no regular expressions)")
    .argument("[location]", "URL/path of a directory or file", ".")
    .option("-g, --glob <pattern>", "only files matching (no '/': the base name at any depth)")
    .option("-m, --max-count <n>", "stop after n matches in total", positiveInteger)
    .addHelpText(
      "after",
      `${examples("deepfs grep TODO ./workspace --glob '*.py'", "deepfs grep -m 10 import s3://bucket/tenant/src/")}` +
        "\nExit status: 0 when a line matched, 1 when none did, 2 on error.\n",
    )
    .action((pattern: string, location: string, options: { glob?: string; maxCount?: number }) =>
      setTask((s, o) => grep(s, o, pattern, location, options)),
    );

  program
    .command("edit")
    .description("replace an exact string in a file (atomically; exactly one match unless --replace-all)")
    .argument("<location>", "URL/path of the file")
    .requiredOption("--old <text>", "the text to replace, exactly as it is in the file")
    .requiredOption("--new <text>", "the replacement")
    .option("--replace-all", "replace every occurrence")
    .addHelpText("after", examples("deepfs edit ./workspace/app.py --old 'DEBUG = True' --new 'DEBUG = False'"))
    .action((location: string, options: { old: string; new: string; replaceAll?: boolean }) =>
      setTask((s, o) => edit(s, o, location, options)),
    );

  program
    .command("cp")
    .description("copy a file or a whole tree between any two backends, byte for byte")
    .argument("<source>", "URL/path of a file or directory")
    .argument("<destination>", "URL/path: a file, or a directory (ending in '/') to copy into")
    .option("--batch-size <n>", "files per download/upload call", positiveInteger, 64)
    .option("--concurrency <n>", "batches in flight at once", positiveInteger, 4)
    .option("--no-progress", "no progress bar (there is none anyway when stdout is not a terminal)")
    .addHelpText(
      "after",
      examples(
        "deepfs cp ./project 's3://bucket/tenants/acme/project?endpoint=http://127.0.0.1:9000'",
        "deepfs cp 'postgres://app@db/app/notes/' ./notes-backup",
        "deepfs cp ./logo.png memory:/assets/",
      ),
    )
    .action((source: string, destination: string, options: TransferOptions) =>
      setTask((s, o) => cp(s, o, source, destination, options)),
    );

  program
    .command("sync")
    .description("make the tree DST hold what the tree SRC holds, copying only files missing or different")
    .argument("<source>", "URL/path of a directory")
    .argument("<destination>", "URL/path of a directory")
    .option("--delete", "also delete files of DST that SRC does not have")
    .option("-n, --dry-run", "print the plan (+ add, ~ update, - delete) and change nothing")
    .option("--size-only", "count files of equal size as unchanged without reading them")
    .option("--batch-size <n>", "files per download/upload call", positiveInteger, 64)
    .option("--concurrency <n>", "batches in flight at once", positiveInteger, 4)
    .option("--no-progress", "no progress bar (there is none anyway when stdout is not a terminal)")
    .addHelpText(
      "after",
      examples(
        "deepfs sync ./project 's3://bucket/tenants/acme/project/?endpoint=http://127.0.0.1:9000'",
        "deepfs sync --dry-run --delete 'postgres://app@db/app/notes/' ./notes-backup",
      ),
    )
    .action((source: string, destination: string, options: SyncOptions) =>
      setTask((s, o) => sync(s, o, source, destination, options)),
    );

  program
    .command("diff")
    .description("how the tree DST differs from the tree SRC: A added, M changed, D deleted (by bytes)")
    .argument("<source>", "URL/path of a directory (the old side)")
    .argument("<destination>", "URL/path of a directory (the new side)")
    .option("-u, --unified", "print a unified diff of every differing file (binary files: one line)")
    .option("--size-only", "count files of equal size as unchanged without reading them")
    .option("--batch-size <n>", "files per download call", positiveInteger, 64)
    .option("--concurrency <n>", "batches in flight at once", positiveInteger, 4)
    .addHelpText(
      "after",
      `${examples("deepfs diff ./project 's3://bucket/tenants/acme/project/'", "deepfs diff -u memory:/a/ ./b")}` +
        "\nExit status: 0 when the trees hold the same files, 1 when they differ, 2 on error.\n",
    )
    .action(
      (
        source: string,
        destination: string,
        options: { unified?: boolean; sizeOnly?: boolean; batchSize: number; concurrency: number },
      ) => setTask((s, o) => diff(s, o, source, destination, options)),
    );

  addHistoryCommands(program, setTask);

  program
    .command("mcp")
    .description("serve a backend to MCP clients (stdio, or Streamable HTTP with --http)")
    .argument("[url]", "backend URL (./workspace, s3://bucket/prefix, memory:, ...); omit with --config")
    .option(
      "--read-only",
      "expose only the read tools (ls, read_file, glob, grep; with history file_history, read_file_version, diff_file)",
    )
    .option("--allow-execute", "add the execute tool when the backend is a sandbox (docker:)")
    .option("--http <port>", "serve Streamable HTTP on this port (0: any free port) instead of stdio", port)
    .option("--host <host>", "with --http: the interface to bind (default 127.0.0.1, this machine only)")
    .option("--token <token>", "with --http: require 'Authorization: Bearer <token>' (or set DEEPFS_MCP_TOKEN)")
    .addHelpText(
      "after",
      examples(
        "deepfs mcp ./workspace",
        "deepfs mcp --read-only 's3://agent-files/tenants/acme?endpoint=http://127.0.0.1:9000'",
        "DEEPFS_MCP_TOKEN=s3cret deepfs mcp memory: --http 8808",
        "deepfs --config deepfs.config.json mcp",
      ),
    )
    .action(
      (
        url: string | undefined,
        options: { readOnly?: boolean; allowExecute?: boolean; http?: number; host?: string; token?: string },
      ) => setTask((s, o) => mcp(s, o, url, options)),
    );
  return program;
}

/**
 * Runs the `deepfs` command line on `argv` (without `node` and the script) and answers the exit
 * status: 0 success, 1 nothing found (grep), 2 error. Never throws; every backend opened is closed.
 */
export async function run(argv: string[], streams: Streams, options: SessionOptions = {}): Promise<number> {
  let task: Task | undefined;
  const program = buildProgram(streams, (parsed) => {
    task = parsed;
  });
  let globals: GlobalOptions = {};
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return 0;
    // `deepfs` alone: commander has printed the help on stderr.
    if (error.code === "commander.help") return 2;
    globals = program.opts<GlobalOptions>();
    const message = error.message.replace(/^error: /, "");
    const secrets = argv.flatMap((arg) => secretsOf(arg));
    return report(
      new CliError("invalid_argument", message, { hint: "see 'deepfs --help'" }),
      globals,
      streams,
      secrets,
    );
  }
  globals = program.opts<GlobalOptions>();
  if (!task) {
    await writeAll(streams.stderr, program.helpInformation());
    return 2;
  }
  // `ask` rules of a config's permissions: a question on the terminal when there is one.
  const terminal = isTerminal(streams.stdin) && isTerminal(streams.stderr);
  const onAsk = options.onAsk ?? (terminal ? terminalApproval(streams) : undefined);
  const session = new Session(
    globals,
    (line) => streams.stderr.write(`${line}\n`),
    onAsk ? { ...options, onAsk } : options,
  );
  const out = new Output(streams, globals.json === true);
  try {
    return await task(session, out);
  } catch (error) {
    return report(toCliError(error), globals, streams, session.secrets);
  } finally {
    await session.close();
  }
}

async function report(error: CliError, options: GlobalOptions, streams: Streams, secrets: string[]): Promise<number> {
  if (options.json) await writeAll(streams.stdout, `${JSON.stringify(errorJson(error, secrets))}\n`);
  else await writeAll(streams.stderr, `${formatError(error, secrets)}\n`);
  return 2;
}
