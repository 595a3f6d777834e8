import type { LocalBackendOptions } from "../src/index.js";

/** The two ways the backend does file I/O; tests that guard a guarantee run under both. */
export const IO_MODES: Array<{ name: string; options: LocalBackendOptions }> = [
  { name: "blocking calls for small files (default)", options: {} },
  { name: "threadpool calls only (syncIoMaxBytes: 0)", options: { syncIoMaxBytes: 0 } },
];
