import { spawnSync } from "node:child_process";
import type Docker from "dockerode";

// Runs in a child Node process: DELETEs each container named on stdin, all at once, then exits.
const REMOVE_SCRIPT = `
const http = require("node:http");
let input = "";
process.stdin.on("data", (c) => { input += c; }).on("end", () => {
  const { target, names } = JSON.parse(input);
  let left = names.length;
  const done = () => { if (--left === 0) process.exit(0); };
  for (const name of names) {
    const path = "/containers/" + encodeURIComponent(name) + "?force=true&v=true";
    const request = http.request({ ...target, method: "DELETE", path }, (res) => { res.resume(); res.on("end", done); });
    request.on("error", done);
    request.end();
  }
});`;

/** How to reach the daemon over plain HTTP, or undefined (TLS, ssh) when a child cannot. */
function plainTarget(docker: Docker): Record<string, unknown> | undefined {
  const modem = docker.modem as unknown as {
    socketPath?: unknown;
    host?: unknown;
    port?: unknown;
    protocol?: unknown;
  };
  if (typeof modem.socketPath === "string") return { socketPath: modem.socketPath };
  if (typeof modem.host === "string" && (modem.protocol === "http" || modem.protocol === undefined)) {
    return { host: modem.host, port: Number(modem.port ?? 2375) };
  }
  return undefined;
}

/**
 * Removes containers by name synchronously, for `process.on("exit")` where nothing can be
 * awaited: a child Node process sends the DELETE requests and this one blocks until it is done
 * (at most `timeoutMs`). Best effort: errors are ignored, and a daemon reached over TLS or ssh is
 * skipped (use `shutdown()` or `cleanupOrphans()` there).
 */
export function removeContainersSync(docker: Docker, names: string[], timeoutMs = 10_000): void {
  const target = plainTarget(docker);
  if (!target || names.length === 0) return;
  spawnSync(process.execPath, ["--input-type=commonjs", "-e", REMOVE_SCRIPT], {
    input: JSON.stringify({ target, names }),
    stdio: ["pipe", "ignore", "ignore"],
    timeout: timeoutMs,
  });
}
