import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Runs `main` when the file that calls this is the script Node was started with (`tsx local.ts`),
 * and does nothing when it is imported (by the tests). Prints the returned summary as JSON, or the
 * error, and sets the exit code.
 */
export function runIfMain(moduleUrl: string, main: () => Promise<unknown>): void {
  const script = process.argv[1];
  if (script === undefined || resolve(script) !== fileURLToPath(moduleUrl)) return;
  main().then(
    (summary) => {
      if (summary !== undefined) console.log(JSON.stringify(summary, null, 2));
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

/** Reads a required environment variable, naming what sets it when it is missing. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: start the services (docker compose up -d --wait) and export it, see README`);
  }
  return value;
}
