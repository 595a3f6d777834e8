// Copy-on-write branches with a LangGraph store namespace as the base: the branch rules.
import { randomUUID } from "node:crypto";
import { createContractContext, registerBranchRules } from "@deepfs/conformance";
import { InMemoryStore } from "@langchain/langgraph";
import { describe } from "vitest";
import { StoreBackend } from "../src/index.js";

const store = new InMemoryStore();

describe("branches of a StoreBackend", () => {
  registerBranchRules(
    createContractContext({
      name: "StoreBackend (InMemoryStore)",
      create: () => new StoreBackend({ store, namespace: ["deepfs", `b-${randomUUID()}`] }),
    }),
  );
});
