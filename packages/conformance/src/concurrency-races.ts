import type { BackendProtocol, EditResult, ErrorFields } from "@deepfs/core";
import { encodeUtf8 } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** How long the second call of a race waits after the first starts: microtask hops, or milliseconds. */
type Delay = { hops: number } | { ms: number };

/** Timing variants: every interleaving point of an in-memory store, and the round trips of a remote one. */
const DELAYS: Delay[] = [
  ...Array.from({ length: 12 }, (_, hops) => ({ hops })),
  ...[0, 1, 2, 4, 8, 16].map((ms) => ({ ms })),
];
/** Each delay with the edit started first and with the other mutation started first. */
const VARIANTS = DELAYS.flatMap((delay) => [
  { delay, editFirst: true },
  { delay, editFirst: false },
]);
/** Variants run this many at a time, each on its own file. */
const PARALLEL_VARIANTS = 6;

async function wait(delay: Delay): Promise<void> {
  if ("ms" in delay) {
    await new Promise((resolve) => setTimeout(resolve, delay.ms));
    return;
  }
  for (let i = 0; i < delay.hops; i++) await Promise.resolve();
}

/** Starts `first`, then `second` after `delay`, and waits for both. */
async function race<A, B>(first: () => Promise<A>, second: () => Promise<B>, delay: Delay): Promise<[A, B]> {
  const a = first();
  await wait(delay);
  const b = second();
  return [await a, await b];
}

/** The mutation that races an edit of the same file. */
type Racer = "upload" | "write" | "delete" | "delete-parent";

/** What a variant observed. */
interface Observed {
  edit: EditResult;
  other: ErrorFields;
  /** The file's text afterwards, or null when it is gone. */
  final: string | null;
}

async function runVariant(
  backend: BackendProtocol,
  dir: string,
  racer: Racer,
  variant: (typeof VARIANTS)[number],
  tag: string,
): Promise<Observed> {
  const path = `${dir}/f.txt`;
  expectSuccess(await backend.write(path, "BASE\n"));
  expectSuccess(await backend.write(`${dir}/sibling.txt`, "other\n"));
  const replacement = `BASE ${tag}\n`;
  const other = async (): Promise<ErrorFields> => {
    switch (racer) {
      case "upload": {
        const [response] = await backend.uploadFiles([[path, encodeUtf8(replacement)]]);
        return response?.error ? { error: response.message ?? response.error, code: response.code } : {};
      }
      case "write":
        return backend.write(path, replacement);
      case "delete":
        return backend.delete(path);
      case "delete-parent":
        return backend.delete(dir);
    }
  };
  const edit = async () => backend.edit(path, "BASE", "EDITED");
  const [editResult, otherResult] = variant.editFirst
    ? await race(edit, other, variant.delay)
    : await race(other, edit, variant.delay).then(([o, e]) => [e, o] as const);
  const read = await backend.readRaw(path);
  let final: string | null = null;
  if (read.error === undefined) final = String(read.data?.content);
  else expect(read.code, `reading ${path} after the race`).toBe("file_not_found");
  return { edit: editResult, other: otherResult, final };
}

/**
 * The problems of one observation: the final state must be what some serial order of the
 * acknowledged calls gives (an acknowledged upload, write or delete is never undone by an edit
 * that read the content from before it).
 */
function problemsOf(racer: Racer, tag: string, seen: Observed): string[] {
  const problems: string[] = [];
  const editCode = seen.edit.error === undefined ? "ok" : seen.edit.code;
  if (seen.other.error !== undefined) {
    // A mutation without a precondition has nothing to conflict with: it must not fail.
    problems.push(`the ${racer} failed with ${seen.other.code}: ${seen.other.error}`);
    return problems;
  }
  if (racer === "upload" || racer === "write") {
    // Edit first: the replacement wins. Replacement first: the edit applies to it.
    const allowed = editCode === "ok" ? [`BASE ${tag}\n`, `EDITED ${tag}\n`] : [`BASE ${tag}\n`];
    if (editCode !== "ok" && editCode !== "conflict") problems.push(`the edit failed with ${editCode}`);
    if (!allowed.includes(seen.final ?? "")) {
      problems.push(
        seen.final === "EDITED\n"
          ? `the acknowledged ${racer} was lost: the edit wrote back the content it read before it`
          : `final content ${JSON.stringify(seen.final)} is no serial order of the calls (edit: ${editCode})`,
      );
    }
  } else {
    // Either order ends with the file deleted; the edit may have run first, or found nothing.
    if (!["ok", "file_not_found", "conflict"].includes(editCode ?? ""))
      problems.push(`the edit failed with ${editCode}`);
    if (seen.final !== null)
      problems.push(
        `the acknowledged ${racer} was undone: the file is back with ${JSON.stringify(seen.final)} (edit: ${editCode})`,
      );
  }
  return problems;
}

async function raceAll(env: RuleEnv, racer: Racer): Promise<void> {
  const problems: string[] = [];
  for (let start = 0; start < VARIANTS.length; start += PARALLEL_VARIANTS) {
    const batch = VARIANTS.slice(start, start + PARALLEL_VARIANTS);
    await Promise.all(
      batch.map(async (variant, i) => {
        const n = start + i;
        const tag = `v${n}`;
        const seen = await runVariant(env.backend, env.at(`/race-${racer}-${n}`), racer, variant, tag);
        for (const problem of problemsOf(racer, tag, seen)) {
          problems.push(
            `variant ${n} (${JSON.stringify(variant.delay)}, edit first: ${variant.editFirst}): ${problem}`,
          );
        }
      }),
    );
  }
  expect(problems, `${problems.length} of ${VARIANTS.length} timing variants`).toEqual([]);
}

/**
 * Every mutation of one path is serialised with an edit of it (or guarded by a precondition): an
 * upload, a write, a delete of the file or of its directory, raced against an edit in many timing
 * variants, always leaves what some serial order of the acknowledged calls leaves.
 */
export function registerRaceRules(ctx: ContractContext): void {
  describe("mutations racing an edit of the same file", () => {
    const timeout = 120_000;
    ctx.rule("an upload racing an edit is never lost", (env) => raceAll(env, "upload"), { timeout });
    ctx.rule("a write racing an edit is never lost", (env) => raceAll(env, "write"), { timeout });
    ctx.rule("a delete racing an edit is never undone", (env) => raceAll(env, "delete"), { timeout });
    ctx.rule(
      "deleting the directory while an edit runs below it is never undone",
      (env) => raceAll(env, "delete-parent"),
      { timeout },
    );
  });
}
