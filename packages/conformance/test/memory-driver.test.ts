// MemoryDriver's primitives, alone (MemoryBackend and StateBackend run the whole backend contract
// in state.test.ts and state-channel.test.ts).
import { MemoryDriver } from "@deepfs/core";
import { defineDriverContract } from "../src/index.js";

defineDriverContract({ name: "MemoryDriver", create: () => new MemoryDriver(), backendContract: false });
