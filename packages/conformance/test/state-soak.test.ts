import { StateBackend } from "@deepfs/core";
import { defineSoak } from "../src/soak.js";

// In memory: the soak measures the contract's bookkeeping (etags, atomic edits) at full speed.
defineSoak({
  name: "StateBackend",
  id: "state",
  create: () => ({ backend: new StateBackend(), close: () => {} }),
});
