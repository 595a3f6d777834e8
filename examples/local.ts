/**
 * `LocalBackend`: an agent's files in a directory on disk. Virtual paths (`/src/app.py`) live under
 * `rootDir`; `..` and symlinks cannot lead outside it. With `execute` enabled it also runs shell
 * commands there: on the host, with this process's permissions (not a security sandbox).
 *
 * Run: `pnpm exec tsx local.ts` (from `examples/`). Needs no service.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "@deepfs/local";
import { runIfMain } from "./lib/run-main.js";

export async function main() {
  // DEEPFS_EXAMPLE_DIR keeps the files for inspection; otherwise a temp dir, removed at the end.
  const keep = process.env.DEEPFS_EXAMPLE_DIR;
  const rootDir = keep ?? mkdtempSync(join(tmpdir(), "deepfs-local-"));
  const backend = new LocalBackend({ rootDir, execute: { timeoutMs: 10_000 } });
  try {
    const written = await backend.write("/src/app.py", 'def main():\n    print("hello")\n');
    const edited = await backend.edit("/src/app.py", '"hello"', '"hello from deepfs"');
    await backend.write("/README.md", "# demo project\nrun src/app.py\n");

    // The virtual path /src/app.py is the real file <rootDir>/src/app.py.
    const onDisk = readFileSync(join(rootDir, "src", "app.py"), "utf8");
    const read = await backend.read("/src/app.py");
    const grep = await backend.grep("hello", "/", "*.py");
    const glob = await backend.glob("**/*.md");
    const outside = await backend.read("/../etc/passwd");
    const run = await backend.execute("cat src/app.py | wc -l");

    return {
      rootDir,
      write: { path: written.path, etagChangedByEdit: written.etag !== edited.etag },
      onDisk,
      read: { content: read.content, totalLines: read.totalLines },
      grep: grep.matches,
      glob: glob.files?.map((f) => f.path),
      escapeAttempt: outside.code,
      execute: { output: run.output.trim(), exitCode: run.exitCode },
    };
  } finally {
    await backend.close();
    if (!keep) rmSync(rootDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
