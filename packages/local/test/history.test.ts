// Version history on disk (issue #22): the history rules with history on, with and without a
// retention limit. Each root is `<parent>/root`, so its default history directory
// (`<parent>/root.deepfs-history`) goes when the parent does.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type BackendContractOptions,
  createContractContext,
  defineBackendContract,
  registerHistoryRules,
} from "@deepfs/conformance";
import { afterAll, describe } from "vitest";
import { LocalBackend, type LocalBackendOptions } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

const tenants = tempRoot("deepfs-history-tenants-");
afterAll(() => tenants.remove());

function optionsFor(name: string, history: LocalBackendOptions["history"]): BackendContractOptions<LocalBackend> {
  return {
    name,
    capabilities: { execute: false },
    create: () => {
      const parent = tempRoot("deepfs-history-");
      const backend = new LocalBackend({ rootDir: join(parent.dir, "root"), history });
      return {
        backend,
        cleanup: async () => {
          await backend.close();
          parent.remove();
        },
      };
    },
    tenant: (tenant, run) => {
      const dir = join(tenants.dir, run, tenant);
      mkdirSync(dir, { recursive: true });
      const backend = new LocalBackend({ rootDir: dir, history });
      return { backend, cleanup: () => backend.close() };
    },
  };
}

describe("history of a LocalBackend", () => {
  registerHistoryRules(createContractContext(optionsFor("LocalBackend history", true)));
});

describe("history of a LocalBackend keeping 20 versions", () => {
  registerHistoryRules(createContractContext(optionsFor("LocalBackend maxVersions 20", { maxVersions: 20 })), {
    maxVersions: 20,
  });
});

/** syncIoMaxBytes 0: the write path makes every call on the threadpool. */
const threadpoolSubject = () => {
  const parent = tempRoot("deepfs-history-");
  const backend = new LocalBackend({ rootDir: join(parent.dir, "root"), history: true, syncIoMaxBytes: 0 });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      parent.remove();
    },
  };
};

describe("history of a LocalBackend with every call on the threadpool", () => {
  registerHistoryRules(
    createContractContext({ ...optionsFor("LocalBackend history (threadpool)", true), create: threadpoolSubject }),
  );
});

// The whole contract with history on (every write path records versions), but for the scale group,
// which the history-off runs in local.test.ts cover.
defineBackendContract({ ...optionsFor("LocalBackend (history on, 5 versions)", { maxVersions: 5 }), omit: ["scale"] });
