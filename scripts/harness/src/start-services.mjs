import { startDocker } from "./docker.mjs";
import { startPostgres } from "./postgres.mjs";
import { startS3 } from "./s3.mjs";
import { UNAVAILABLE_VAR } from "./service-status.mjs";

const STARTERS = { postgres: startPostgres, s3: startS3, docker: startDocker };

const defaultLog = (line) => process.stderr.write(`[deepfs-harness] ${line}\n`);

/**
 * Starts (or finds) each named service. A service that cannot be had is reported in `env` as
 * DEEPFS_<NAME>_UNAVAILABLE, unless DEEPFS_REQUIRE_SERVICES=1, where it is an error.
 */
export async function startServices(names, { log = defaultLog } = {}) {
  for (const name of names) {
    if (!STARTERS[name]) throw new Error(`unknown service ${JSON.stringify(name)}`);
  }
  const results = await Promise.allSettled(names.map((name) => STARTERS[name]({ log })));
  const env = {};
  const info = {};
  const stops = [];
  const missing = [];
  results.forEach((result, index) => {
    const name = names[index];
    if (result.status === "fulfilled") {
      Object.assign(env, result.value.env);
      info[name] = result.value.info;
      if (result.value.images) info.images = result.value.images;
      stops.push(result.value.stop);
    } else {
      const reason = String(result.reason?.message ?? result.reason).replace(/\s+/g, " ");
      env[UNAVAILABLE_VAR[name]] = reason;
      info[name] = `unavailable (${reason})`;
      missing.push(name);
      log(`SKIP ${name}: ${reason}`);
    }
  });
  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      for (const stopOne of stops.reverse()) {
        await stopOne().catch((error) => log(`stopping a service failed: ${error.message}`));
      }
    })();
    return stopped;
  };
  if (missing.length > 0 && process.env.DEEPFS_REQUIRE_SERVICES === "1") {
    await stop();
    throw new Error(
      `DEEPFS_REQUIRE_SERVICES=1 but unavailable: ${missing.map((n) => `${n} (${env[UNAVAILABLE_VAR[n]]})`).join("; ")}`,
    );
  }
  return { env, info, stop };
}
