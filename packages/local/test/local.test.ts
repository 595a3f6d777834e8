import { defineBackendContract } from "@deepfs/conformance";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** A fresh LocalBackend in its own temp directory for every contract test. */
function subject(options: LocalBackendOptions) {
  return () => {
    const root = tempRoot();
    const backend = new LocalBackend({ ...options, rootDir: root.dir });
    return {
      backend,
      // In non-virtual mode paths are real: the test files live under the real temp directory.
      root: backend.virtualMode ? "/" : backend.rootDir,
      cleanup: async () => {
        await backend.close();
        root.remove();
      },
    };
  };
}

defineBackendContract({ name: "LocalBackend (ripgrep)", create: subject({ grepEngine: "ripgrep" }) });
defineBackendContract({ name: "LocalBackend (built-in grep)", create: subject({ grepEngine: "builtin" }) });
// Shell commands see real paths, so the execute run uses non-virtual mode (as deepagents' LocalShellBackend).
defineBackendContract({
  name: "LocalBackend (non-virtual, execute)",
  create: subject({
    virtualMode: false,
    execute: { timeoutMs: 20_000, env: { PATH: "/usr/local/bin:/usr/bin:/bin" } },
  }),
});
