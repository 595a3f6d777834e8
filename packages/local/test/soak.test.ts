import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineSoak, soakSeconds } from "@deepfs/conformance/soak";
import { CompositeBackend, isInternalTempName, StateBackend } from "@deepfs/core";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** Temp files left anywhere below `dir` on disk: none may outlive the calls that made them. */
function tempFilesBelow(dir: string): number {
  let count = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) count += tempFilesBelow(join(dir, entry.name));
    // The atomic-write temp files LocalBackend renames into place.
    else if (isInternalTempName(entry.name)) count++;
  }
  return count;
}

/** Counted after the run (the close removes the directory, which would hide a leak). */
const tempFileProbe = (dirs: string[]) => ({
  name: "temp files on disk",
  count: () => dirs.reduce((sum, dir) => sum + tempFilesBelow(dir), 0),
  max: 0,
  phase: "after-run" as const,
});

const rootA = tempRoot("deepfs-soak-");
defineSoak({
  name: "LocalBackend",
  id: "local",
  create: () => {
    const backend = new LocalBackend({ rootDir: rootA.dir });
    return {
      backend,
      close: async () => {
        await backend.close();
        rootA.remove();
      },
    };
  },
  probes: [tempFileProbe([rootA.dir])],
});

// The router over two kinds of member: ledgers in memory, registers and private files on disk (two
// LocalBackends), so that tree-wide glob and grep fan out and merge while the members are written.
const agentsRoot = tempRoot("deepfs-soak-agents-");
const registerRoot = tempRoot("deepfs-soak-register-");
defineSoak({
  name: "CompositeBackend (State + 2 LocalBackends)",
  id: "composite-local",
  create: () => {
    const agents = new LocalBackend({ rootDir: agentsRoot.dir });
    const register = new LocalBackend({ rootDir: registerRoot.dir });
    const backend = new CompositeBackend(new StateBackend(), { "/agents/": agents, "/register/": register });
    return {
      backend,
      close: async () => {
        await agents.close();
        await register.close();
        agentsRoot.remove();
        registerRoot.remove();
      },
    };
  },
  probes: [tempFileProbe([agentsRoot.dir, registerRoot.dir])],
});

/** Files under `dir` whose content (etag) is not their newest version's, or that have no version. */
async function filesOffTheirNewestVersion(backend: LocalBackend, dir: string, path = "/"): Promise<number> {
  let count = 0;
  for (const entry of readdirSync(join(dir, path), { withFileTypes: true })) {
    const child = path === "/" ? `/${entry.name}` : `${path}/${entry.name}`;
    if (entry.isDirectory()) count += await filesOffTheirNewestVersion(backend, dir, child);
    else if (entry.isFile() && !isInternalTempName(entry.name)) {
      const [newest] = (await backend.history(child, { limit: 1 })).versions ?? [];
      const now = await backend.readRaw(child);
      if (newest?.etag !== now.etag) count++;
    }
  }
  return count;
}

/** Versions in the log whose object is missing. */
function versionsPointingNowhere(historyDir: string): number {
  const log = join(historyDir, "log");
  if (!existsSync(log)) return 0;
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { h: string | null })
    .filter((r) => r.h !== null && !existsSync(join(historyDir, "objects", r.h.slice(0, 2), r.h.slice(2)))).length;
}

// With history on (no retention): after the run every file's content is its newest version, no
// version points at a missing object, and each file's versions are exactly its acknowledged
// mutations (the version-chain audit).
const historyParent = tempRoot("deepfs-soak-history-");
const historyRoot = join(historyParent.dir, "root");
mkdirSync(historyRoot);
let historyBackend: LocalBackend | undefined;
defineSoak({
  name: "LocalBackend (history on)",
  id: "local-history",
  // Every change is three fsyncs more: a shorter run than the others by default.
  seconds: Math.min(soakSeconds(), 15),
  versions: true,
  create: () => {
    const backend = new LocalBackend({ rootDir: historyRoot, history: true });
    historyBackend = backend;
    return {
      backend,
      close: async () => {
        await backend.close();
        historyParent.remove();
      },
    };
  },
  probes: [
    tempFileProbe([historyRoot]),
    {
      name: "files whose content is not their newest version",
      count: () => filesOffTheirNewestVersion(historyBackend as LocalBackend, historyRoot),
      max: 0,
      phase: "after-run",
    },
    {
      name: "versions whose content is missing",
      count: () => versionsPointingNowhere(`${historyRoot}.deepfs-history`),
      max: 0,
      phase: "after-run",
    },
  ],
});
