import type { MemoryBackend } from "../../src/index.js";
import { DriverBackend, isFault } from "../../src/kit/index.js";

/**
 * Gives `backend`'s driver history a native `restore` (as S3 has: it copies a version inside the
 * bucket), which reads the version whole and writes it with the call's options, and answers the
 * paths it restored, in order, so that a test can tell a native restore from the facade's own.
 */
export function withNativeRestore(backend: MemoryBackend): string[] {
  const driver = DriverBackend.driverOf(backend);
  const history = driver?.history;
  if (!driver || !history) throw new Error("no driver history");
  const restored: string[] = [];
  history.restore = async (path, version, call) => {
    restored.push(path);
    const then = await history.readVersion(path, version, { whole: true });
    if (isFault(then)) return then;
    const written = await driver.write(path, then.content, call);
    return isFault(written) ? written : { etag: written.etag };
  };
  return restored;
}
