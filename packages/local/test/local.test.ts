import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type BackendContractOptions,
  createContractContext,
  defineBackendContract,
  registerBoundsRules,
  registerConcurrencyRules,
  registerDeleteRules,
  registerEditRules,
  registerErrorRules,
  registerExecuteRules,
  registerGrepRules,
  registerHostileRules,
  registerInternalNameRules,
  registerLsRules,
  registerPathRules,
  registerReadRules,
  registerTransferRules,
  registerWriteRules,
} from "@deepfs/conformance";
import { afterAll, describe } from "vitest";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

/** A fresh LocalBackend in its own temp directory for every contract test. */
function subject(options: LocalBackendOptions): BackendContractOptions<LocalBackend>["create"] {
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

/** Tenants: sibling root directories of one parent per run (`<parent>/acme`, `<parent>/acme-corp`). */
const tenants = tempRoot("deepfs-tenants-");
afterAll(() => tenants.remove());

// The whole contract once, with ripgrep (what `auto` picks on a machine that has it).
defineBackendContract({
  name: "LocalBackend (ripgrep)",
  create: subject({ grepEngine: "ripgrep" }),
  tenant: (name, run) => {
    const dir = join(tenants.dir, run, name);
    mkdirSync(dir, { recursive: true });
    const backend = new LocalBackend({ rootDir: dir, grepEngine: "ripgrep" });
    return { backend, cleanup: () => backend.close() };
  },
  // Without the execute option: the execute rules belong to the run below.
  capabilities: { execute: false },
});

// The built-in search differs from the ripgrep run only in how grep finds its candidates: its grep
// rules, and the bounds of grep's answer.
describe("LocalBackend (built-in grep) satisfies the deepfs grep contract", () => {
  const ctx = createContractContext({
    name: "LocalBackend (built-in grep)",
    create: subject({ grepEngine: "builtin" }),
  });
  registerGrepRules(ctx);
  registerInternalNameRules(ctx);
  registerBoundsRules(ctx);
});

// The runs above read and write their small files with blocking calls; this one makes every call on
// the threadpool: the rules that touch file contents, once more.
describe("LocalBackend (syncIoMaxBytes: 0) satisfies the deepfs file rules", () => {
  const ctx = createContractContext({
    name: "LocalBackend (threadpool only)",
    create: subject({ syncIoMaxBytes: 0 }),
    capabilities: { execute: false },
  });
  registerPathRules(ctx);
  registerReadRules(ctx);
  registerWriteRules(ctx);
  registerEditRules(ctx);
  registerConcurrencyRules(ctx);
  registerTransferRules(ctx);
  registerErrorRules(ctx);
  registerHostileRules(ctx);
});

// Shell commands see real paths, so the execute run uses non-virtual mode (as deepagents' LocalShellBackend):
// the execute rules, and the per-path rules as a smoke test of the real-path mapping.
describe("LocalBackend (non-virtual, execute) satisfies the deepfs execute contract", () => {
  const ctx = createContractContext({
    name: "LocalBackend (non-virtual, execute)",
    create: subject({
      virtualMode: false,
      execute: { timeoutMs: 20_000, env: { PATH: "/usr/local/bin:/usr/bin:/bin" } },
    }),
  });
  registerExecuteRules(ctx);
  registerPathRules(ctx);
  registerReadRules(ctx);
  registerWriteRules(ctx);
  registerEditRules(ctx);
  registerLsRules(ctx);
  registerDeleteRules(ctx);
});
