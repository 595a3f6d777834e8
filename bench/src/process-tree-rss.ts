/** Runs the memory probe in a child process and samples the RSS of its whole process tree. */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";

const PAGE = 4096;

export interface ProbeResult {
  matches: number;
  /** Peak RSS of the probe's Node process (getrusage maxrss). */
  nodeMaxRssMb: number;
  /** Peak of the summed RSS of the probe and every descendant (ripgrep included), sampled every 10 ms. */
  treePeakRssMb: number;
  ms: number;
}

/** Sum of the resident pages of `root` and its descendants, from /proc. */
async function treeRss(root: number): Promise<number> {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      // The command name may contain spaces; fields after its closing parenthesis are fixed.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      const pid = Number(name);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
      rss.set(pid, Number(fields[21]) * PAGE);
    } catch {
      // The process ended between readdir and readFile.
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    total += rss.get(pid) ?? 0;
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return total;
}

export async function runProbe(script: string, args: string[]): Promise<ProbeResult> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  let peak = 0;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    if (child.pid !== undefined) peak = Math.max(peak, await treeRss(child.pid));
    await new Promise((r) => setTimeout(r, 10));
  }
  const code = await exited;
  const line = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) {
    throw new Error(`memory probe ${args[0]} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const parsed = JSON.parse(line) as { matches: number; maxRssMb: number; ms: number };
  return {
    matches: parsed.matches,
    nodeMaxRssMb: parsed.maxRssMb,
    treePeakRssMb: Math.max(peak / 1024 / 1024, parsed.maxRssMb),
    ms: parsed.ms,
  };
}
