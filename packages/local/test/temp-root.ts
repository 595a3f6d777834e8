import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Free space a RAM disk must have before the tests use it (the largest test writes ~30 MB at once). */
const MIN_FREE_BYTES = 1024 ** 3;

/**
 * Where test directories go: a RAM disk (`/dev/shm`) when there is one with room, else the OS temp
 * dir. Creating thousands of small files on a busy disk costs seconds per thousand (journal
 * contention), which measures the machine, not the backend; the backend uses the same POSIX calls
 * on either (rename, O_NOFOLLOW, symlinks, FIFOs behave alike).
 */
function testTempDir(): string {
  try {
    const fs = statfsSync("/dev/shm");
    if (fs.bavail * fs.bsize >= MIN_FREE_BYTES) return "/dev/shm";
  } catch {
    // No RAM disk here (macOS, Windows): the OS temp dir.
  }
  return tmpdir();
}

const base = testTempDir();

/** A fresh directory for one test, and a function that removes it. */
export function tempRoot(prefix = "deepfs-local-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(base, prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
