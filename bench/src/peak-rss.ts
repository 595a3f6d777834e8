import { readFileSync } from "node:fs";

/**
 * This process's peak resident set in MB: `VmHWM` of /proc/self/status, the high-water mark of its
 * own address space. Not `process.resourceUsage().maxRSS`: on Linux a child keeps the RSS it had
 * between fork and exec, a copy of its parent's, so a probe started by a large bench process would
 * report the bench's size. Falls back to maxRSS where /proc is absent.
 */
export function peakRssMb(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // No procfs: below.
  }
  return process.resourceUsage().maxRSS / 1024;
}
