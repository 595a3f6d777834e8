import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * A count of some resource, taken after the warm-up and again at the end of a soak, that must not
 * have grown: open files, sockets, pool connections, containers, temp files.
 */
export interface ResourceProbe {
  /** Shown in the summary, e.g. `sockets to moto`. */
  name: string;
  count: () => number | Promise<number>;
  /** When given, the final count must be at most this (`0` for "all closed"); otherwise at most the count before. */
  max?: number;
  /** How far the final count may exceed the count before (only without `max`). Default 0. */
  tolerance?: number;
  /**
   * When the final count is taken: after the backend was closed (default), or after the run and
   * its audit but before the close (for things the close would hide, such as running execs).
   */
  phase?: "after-run" | "after-close";
}

/** Whether the running system can be inspected through `/proc` (Linux). */
export const HAS_PROC = (() => {
  try {
    readdirSync("/proc/self/fd");
    return true;
  } catch {
    return false;
  }
})();

/** Targets of this process's open file descriptors (`socket:[123]`, `/tmp/x`, `pipe:[9]`, …). */
function openFdTargets(): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      targets.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed between the listing and the readlink (the listing's own descriptor, among others).
    }
  }
  return targets;
}

/** Inodes of this process's sockets. */
function socketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const target of openFdTargets()) {
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1]) inodes.add(match[1]);
  }
  return inodes;
}

/** Timers are the test runner's and the backends' scheduling, not held resources. */
const TIMER_RESOURCES = new Set(["Timeout", "Immediate"]);

/** `process.getActiveResourcesInfo()` without timers, counted by kind (`TCPSocketWrap: 3`). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (!TIMER_RESOURCES.has(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * The probes every soak takes, for the process it runs in: open file descriptors, sockets among them
 * and the active handles Node reports (timers excepted). Descriptors need `/proc` (Linux); elsewhere
 * only the handles are counted.
 */
export function processProbes(): ResourceProbe[] {
  const handles: ResourceProbe = {
    name: "active handles",
    count: () => Object.values(activeResources()).reduce((sum, n) => sum + n, 0),
  };
  if (!HAS_PROC) return [handles];
  return [
    { name: "open fds", count: () => openFdTargets().length },
    { name: "sockets", count: () => socketInodes().size },
    handles,
  ];
}

/**
 * Connected TCP sockets of this process whose remote port is `port` (for example the S3 endpoint's),
 * found by matching `/proc/net/tcp{,6}` entries to this process's socket inodes. 0 without `/proc`.
 */
export function socketsToPort(port: number): number {
  if (!HAS_PROC) return 0;
  const mine = socketInodes();
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const remote = fields[2];
      const inode = fields[9];
      if (!remote || !inode) continue;
      const remotePort = Number.parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16);
      if (remotePort === port && mine.has(inode)) count++;
    }
  }
  return count;
}
