// The whole contract through the audit layer: over StateBackend with history on (restores are
// audited through the native history), and over a router whose members are audited too.
import { type AuditEvent, CompositeBackend, StateBackend, withAudit } from "@deepfs/core";
import { afterAll, expect } from "vitest";
import { defineBackendContract } from "../src/index.js";

const events: AuditEvent[] = [];
const onAudit = (event: AuditEvent) => void events.push(event);

defineBackendContract({
  name: "withAudit(StateBackend, history on)",
  capabilities: { execute: false },
  create: () => withAudit(new StateBackend({ history: true }), { onAudit, actor: "contract" }),
});

defineBackendContract({
  name: "withAudit(CompositeBackend of audited members at /, /a/, /a/b/)",
  capabilities: { execute: false },
  create: () =>
    withAudit(
      new CompositeBackend(withAudit(new StateBackend(), { onAudit }), {
        "/a/": withAudit(new StateBackend(), { onAudit }),
        "/a/b/": new StateBackend(),
      }),
      { onAudit },
    ),
});

afterAll(() => {
  // The suite changed files: the layer saw it (an audit that reported nothing would prove nothing).
  expect(events.some((e) => e.outcome === "done")).toBe(true);
  expect(JSON.stringify(events.slice(0, 2000))).not.toMatch(/"content"/);
});
