// Examples that use a real service: executed against what the harness started (or what the
// environment points at); skipped with a loud reason when the service cannot be had.
import { requireOrSkipReason } from "@deepfs/harness";
import { describe, expect, it } from "vitest";
import { main as docker } from "../docker.js";
import { main as postgres } from "../postgres.js";
import { main as projectAssistant } from "../project-assistant.js";
import { main as s3 } from "../s3.js";

const noPostgres = requireOrSkipReason("postgres");
const noS3 = requireOrSkipReason("s3");
const noDocker = requireOrSkipReason("docker");

describe.skipIf(noPostgres)("postgres.ts", () => {
  it("stores one row per file per tenant and refuses a stale update", async () => {
    const summary = await postgres();
    expect(summary.table).toBe("public.deepfs_files");
    expect(summary.update).toEqual({ occurrences: 1, etagChanged: true });
    expect(summary.staleWrite).toBe("conflict");
    expect(summary.grep).toEqual([{ path: "/memories/preferences.md", line: 2, text: "- answer briefly, in English" }]);
    expect(summary.rows).toHaveLength(2);
    const [acme, corp] = summary.rows;
    expect(acme).toMatchObject({ path: "/memories/preferences.md", parent: "/memories" });
    expect(corp?.namespace).toBe(`${acme?.namespace}-corp`);
    expect(Number(acme?.size)).toBe(Buffer.byteLength("# Preferences\n- answer briefly, in English\n"));
  });
});

describe.skipIf(noS3)("s3.ts", () => {
  it("stores one object per file under the prefix, bytes exact", async () => {
    const summary = await s3();
    expect(summary.prefix).toMatch(/^examples\/[0-9a-f]{8}\/$/);
    expect(summary.upload).toEqual([{ path: "/assets/logo.png", error: null }]);
    expect(summary.bytesExact).toBe(true);
    expect(summary.createIfAbsent).toBe("conflict");
    expect(summary.ls).toEqual(["/assets/", "/reports/"]);
    expect(summary.grep).toEqual([{ path: "/reports/q3.md", line: 2, text: "revenue up" }]);
    expect(summary.readBinary).toEqual({ isBytes: true, mimeType: "image/png" });
    expect(summary.keys).toEqual([
      { key: `${summary.prefix}assets/logo.png`, size: 10 },
      { key: `${summary.prefix}reports/q3.md`, size: 16 },
    ]);
  });
});

describe.skipIf(noDocker)("docker.ts", () => {
  it("runs commands as a non-root user without network, with exit codes and timeouts", async () => {
    const summary = await docker();
    expect(summary.id).toMatch(/^deepfs-/);
    expect(summary.run).toEqual({ output: "line 1\nline 2\nline 3\n1000\n", exitCode: 0 });
    expect(summary.failing.exitCode).not.toBe(0);
    expect(summary.failing.output).toContain("/nope");
    expect(summary.timeout.exitCode).toBe(124);
    expect(summary.timeout.output).toMatch(/timed out/);
    expect(summary.interfaces).toBe(1);
    expect(summary.out).toBe("generated");
    expect(summary.grep).toEqual([
      { path: "/workspace/count.sh", line: 1, text: 'for i in 1 2 3; do echo "line $i"; done' },
    ]);
  });
});

describe.skipIf(noPostgres ?? noS3 ?? noDocker)("project-assistant.ts", () => {
  it("puts each file in its store and runs the agent's code in the sandbox", async () => {
    const summary = await projectAssistant();
    expect(summary.executeSupported).toBe(true);
    expect(summary.tools.map((t) => t.name)).toEqual([
      "ls",
      "grep",
      "write_file",
      "execute",
      "write_file",
      "write_file",
      "write_file",
    ]);
    expect(summary.tools[3]?.result).toBe("350");
    expect(summary.landed.report.content).toBe("# March\ntotal: 350\n");
    expect(summary.landed.memory).toMatchObject({ path: "/preferences.md", stored: true });
    expect(summary.landed.asset.key).toMatch(/^assistant\/[0-9a-f]{8}\/sales\.csv$/);
    expect(summary.landed.asset.size).toBe(70);
    expect(summary.landed.script.content).toBe("echo $((100 + 250))");
    expect(summary.landed.scratch).toBe("- [x] March total\n- [ ] April");
  });
});
