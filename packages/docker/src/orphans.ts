import { hostname } from "node:os";
import Docker from "dockerode";
import { MANAGED_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL } from "./options.js";

/** A container removed by {@link cleanupOrphans}. */
export interface RemovedOrphan {
  /** Container id. */
  id: string;
  /** Container name without the leading `/` (the sandbox id). */
  name: string;
  /** Pid of the process that created it, now gone. */
  ownerPid: number;
}

/**
 * Removes the sandbox containers whose creating process is gone: containers labelled
 * `deepfs.managed=1` whose `deepfs.owner-host` is this host and whose `deepfs.owner-pid` is no
 * longer a running process (a crashed or killed program that could not clean up). Containers of
 * other hosts, of live processes, or without owner labels are left alone. A pid reused by an
 * unrelated process keeps its orphans until that process ends: the check errs on the side of
 * keeping containers.
 */
export async function cleanupOrphans(docker: Docker | Docker.DockerOptions = {}): Promise<RemovedOrphan[]> {
  const client = docker instanceof Docker ? docker : new Docker(docker);
  const here = hostname();
  const containers = await client.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=1`] } });
  const removed: RemovedOrphan[] = [];
  await Promise.all(
    containers.map(async (info) => {
      const labels = info.Labels ?? {};
      const ownerPid = Number(labels[OWNER_PID_LABEL]);
      if (labels[OWNER_HOST_LABEL] !== here || !Number.isInteger(ownerPid) || ownerPid <= 0) return;
      if (isAlive(ownerPid)) return;
      try {
        await client.getContainer(info.Id).remove({ force: true, v: true });
      } catch (error) {
        // Removed meanwhile (by its owner's last gasp or another cleanup): nothing left to do.
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        return;
      }
      removed.push({ id: info.Id, name: (info.Names?.[0] ?? "").replace(/^\//, ""), ownerPid });
    }),
  );
  return removed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
