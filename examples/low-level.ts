/**
 * The backend API without an agent: every deepfs backend has these methods, returns failures as
 * `{ error, code }` instead of throwing, and versions files with etags. Shown on the in-memory
 * `StateBackend` behind a `CompositeBackend`; any other backend answers the same way.
 *
 * Run: `pnpm exec tsx low-level.ts` (from `examples/`). Needs no service.
 */
import { CompositeBackend, formatContentWithLineNumbers, isFailure, StateBackend } from "@deepfs/core";
import { runIfMain } from "./lib/run-main.js";

export async function main() {
  const notes = new StateBackend();
  const backend = new CompositeBackend(new StateBackend(), { "/notes/": notes });

  // Writes: create-only with ifNoneMatch, then update only the version we read with ifMatch.
  const created = await backend.write("/notes/log.txt", "one\ntwo\nthree\nfour\nfive\n", { ifNoneMatch: "*" });
  const again = await backend.write("/notes/log.txt", "clobber", { ifNoneMatch: "*" });
  const read = await backend.read("/notes/log.txt", 1, 2); // lines 2-3: offset is 0-based
  const edited = await backend.edit("/notes/log.txt", "two", "TWO", false, { ifMatch: read.etag });
  const lostUpdate = await backend.edit("/notes/log.txt", "three", "3", false, { ifMatch: read.etag });

  // The router stripped /notes/ before forwarding: the member holds /log.txt.
  const inMember = Object.keys(notes.files);

  // Search: literal substrings (regex characters are plain), glob filters, capped counts.
  await backend.write("/src/a.py", "x = 1  # TODO (a)\n");
  await backend.write("/src/b.ts", "let y = 2 // TODO (b)\n");
  const grep = await backend.grep("TODO (", "/", "*.py");
  const capped = await backend.grep("TODO", "/", null, 1);
  const glob = await backend.glob("**/*.{py,ts}");

  // Binary files round-trip byte for byte through upload/download.
  const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
  const [upload] = await backend.uploadFiles([["/notes/blob.bin", bytes]]);
  const [download] = await backend.downloadFiles(["/notes/blob.bin"]);

  // Failures are values with a code; nothing throws.
  const failures = {
    missing: (await backend.read("/nope.txt")).code,
    escape: (await backend.read("/../etc/passwd")).code,
    directory: (await backend.read("/notes")).code,
    emptyOldString: (await backend.edit("/src/a.py", "", "z")).code,
    notFound: (await backend.edit("/notes/log.txt", "absent", "x")).code,
    execute: (await backend.execute("ls")).exitCode,
  };
  const missing = await backend.read("/nope.txt");

  return {
    created: { path: created.path, hasEtag: typeof created.etag === "string" },
    createOnlyRefused: again.code,
    window: { content: read.content, startLine: read.startLine, endLine: read.endLine, nextOffset: read.nextOffset },
    numbered: formatContentWithLineNumbers(String(read.content), read.startLine),
    edited: edited.occurrences,
    lostUpdateRefused: lostUpdate.code,
    inMember,
    grep: grep.matches,
    capped: { matches: capped.matches?.length, truncated: capped.truncated },
    glob: glob.files?.map((f) => f.path),
    bytesExact: upload?.error === null && Buffer.from(download?.content ?? []).equals(Buffer.from(bytes)),
    failures,
    failureIsValue: isFailure(missing) && missing.error,
  };
}

runIfMain(import.meta.url, main);
