import { readdirSync } from "node:fs";
import { join } from "node:path";
import { defineSoak } from "@deepfs/conformance/soak";
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
