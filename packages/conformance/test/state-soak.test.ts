import { type AuditEvent, StateBackend, withAudit } from "@deepfs/core";
import { defineSoak, soakSeconds } from "../src/soak.js";
import { inThread, Thread } from "./langgraph-thread.js";

// In memory: the soak measures the contract's bookkeeping (etags, atomic edits) at full speed.
defineSoak({
  name: "StateBackend",
  id: "state",
  create: () => ({ backend: new StateBackend(), close: () => {} }),
});

// History on (no retention): after the run every file's versions are exactly its acknowledged
// mutations, one each, with the same operation and etag (the version-chain audit).
defineSoak({
  name: "StateBackend (history on)",
  id: "state-history",
  seconds: Math.min(soakSeconds(), 10),
  versions: true,
  create: () => ({ backend: new StateBackend({ history: true }), close: () => {} }),
});

// History inside a LangGraph run: each call a step of one thread, versions in its history channel.
defineSoak({
  name: "StateBackend in a LangGraph thread (history on)",
  id: "state-thread-history",
  seconds: Math.min(soakSeconds(), 10),
  versions: true,
  create: () => ({
    backend: inThread(new StateBackend({ history: true }), new Thread({}, { history: true })),
    close: () => {},
  }),
});

// The audit layer: after the run its trail holds exactly one done event per acknowledged change.
const trail: AuditEvent[] = [];
defineSoak({
  name: "withAudit(StateBackend)",
  id: "state-audit",
  seconds: Math.min(soakSeconds(), 10),
  auditEvents: () => trail,
  create: () => ({ backend: withAudit(new StateBackend(), { onAudit: (e) => void trail.push(e) }), close: () => {} }),
});
