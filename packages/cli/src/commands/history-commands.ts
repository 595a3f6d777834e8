import type { Command } from "commander";
import { examples, positiveInteger } from "../args.js";
import type { Task } from "../session.js";
import { changes, log, restore, show, snapshot } from "./history.js";

const HISTORY_NOTE =
  "\nNeeds a backend keeping version history (e.g. memory:?history=1); otherwise exit status 2, code unsupported.\n";

/** Registers log, show, restore, snapshot and changes: the version history of a backend. */
export function addHistoryCommands(program: Command, setTask: (task: Task) => void): void {
  program
    .command("log")
    .description("list the versions of a file, newest first: version, operation, size, time")
    .argument("<location>", "URL/path of the file")
    .option("-n, --limit <n>", "at most n versions", positiveInteger)
    .addHelpText("after", examples("deepfs --config deepfs.config.json log /project/plan.md --limit 5") + HISTORY_NOTE)
    .action((location: string, options: { limit?: number }) => setTask((s, o) => log(s, o, location, options)));

  program
    .command("show")
    .description("write the exact bytes of one version of a file to stdout")
    .argument("<location@version>", "URL/path of the file, '@', and a version from 'deepfs log'")
    .argument("[version]", "the version, when not given after '@'")
    .addHelpText(
      "after",
      examples("deepfs --config deepfs.config.json show /project/plan.md@v3 > plan-v3.md") + HISTORY_NOTE,
    )
    .action((location: string, version: string | undefined) => setTask((s, o) => show(s, o, location, version)));

  program
    .command("restore")
    .description("write a version's content back as the file's newest version; prints the new version and etag")
    .argument("<location>", "URL/path of the file")
    .argument("<version>", "a version from 'deepfs log'")
    .option("--if-match <etag>", "only if the file's current etag is this one (else error conflict)")
    .addHelpText("after", examples("deepfs --config deepfs.config.json restore /project/plan.md v3") + HISTORY_NOTE)
    .action((location: string, version: string, options: { ifMatch?: string }) =>
      setTask((s, o) => restore(s, o, location, version, options)),
    );

  program
    .command("snapshot")
    .description("print an id of the whole backend as of now (for 'deepfs changes')")
    .argument("<location>", "URL of the backend (its root: memory:, URL#/, or / with --config)")
    .addHelpText("after", examples("deepfs --config deepfs.config.json snapshot /") + HISTORY_NOTE)
    .action((location: string) => setTask((s, o) => snapshot(s, o, location)));

  program
    .command("changes")
    .description("list the files changed since a snapshot: A added, M modified, D deleted")
    .argument("<location>", "URL of the backend (its root)")
    .argument("<snapshot>", "an id printed by 'deepfs snapshot'")
    .option("--restore", "put every changed file back as it was at the snapshot")
    .option("-n, --dry-run", "with --restore: print what would be restored and change nothing")
    .addHelpText(
      "after",
      examples(
        "deepfs --config deepfs.config.json changes / s-42",
        "deepfs --config deepfs.config.json changes --restore --dry-run / s-42",
      ) + HISTORY_NOTE,
    )
    .action((location: string, id: string, options: { restore?: boolean; dryRun?: boolean }) =>
      setTask((s, o) => changes(s, o, location, id, options)),
    );
}
