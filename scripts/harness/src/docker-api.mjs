import { request as httpRequest } from "node:http";

/**
 * The few Docker Engine API calls the harness needs, over node:http, so the harness has no
 * dependencies. `host` is a DOCKER_HOST value: unix:///path or tcp://host:port.
 */
export function dockerRequest(host, method, path, { body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const target = host.startsWith("unix://") ? { socketPath: host.slice("unix://".length) } : tcpTarget(host);
    const headers = body ? { "content-type": "application/x-tar", "transfer-encoding": "chunked" } : {};
    const req = httpRequest({ ...target, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`docker ${method} ${path} timed out`)));
    req.on("error", reject);
    if (body) {
      body.on("error", (error) => req.destroy(error));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}

function tcpTarget(host) {
  const url = new URL(host.replace(/^tcp:/, "http:"));
  return { host: url.hostname, port: url.port };
}

export async function dockerPing(host) {
  try {
    const res = await dockerRequest(host, "GET", "/_ping", { timeoutMs: 2_000 });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function dockerVersion(host) {
  const res = await dockerRequest(host, "GET", "/version");
  if (res.status !== 200) throw new Error(`GET /version answered ${res.status}`);
  return JSON.parse(res.text).Version;
}

export async function imageExists(host, tag) {
  const res = await dockerRequest(host, "GET", `/images/${encodeURIComponent(tag)}/json`);
  return res.status === 200;
}

/** Imports a rootfs tarball stream as `tag`, like `docker import -c CMD`. */
export async function importImage(host, tag, tarStream, cmd) {
  const [repo, version] = tag.split(":");
  const query = new URLSearchParams({
    fromSrc: "-",
    repo,
    tag: version ?? "latest",
    changes: `CMD ${JSON.stringify(cmd)}`,
  });
  const res = await dockerRequest(host, "POST", `/images/create?${query}`, { body: tarStream, timeoutMs: 600_000 });
  const failure = res.text.split("\n").find((line) => line.includes('"errorDetail"'));
  if (res.status !== 200 || failure) throw new Error(`import of ${tag} failed: ${failure ?? res.text.trim()}`);
}

/** Removes containers carrying the test label, which tests are expected to clean up themselves. */
export async function removeLabelledContainers(host) {
  const filters = encodeURIComponent(JSON.stringify({ label: ["deepfs.test=1"] }));
  const res = await dockerRequest(host, "GET", `/containers/json?all=1&filters=${filters}`);
  if (res.status !== 200) throw new Error(`listing containers answered ${res.status}`);
  const ids = JSON.parse(res.text).map((container) => container.Id);
  for (const id of ids) await dockerRequest(host, "DELETE", `/containers/${id}?force=1&v=1`, { timeoutMs: 30_000 });
  return ids.length;
}
