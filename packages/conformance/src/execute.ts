import { isSandboxBackend, type SandboxBackendProtocol } from "@deepfs/core";
import { describe, expect } from "vitest";
import { expectSuccess } from "./assertions.js";
import type { ContractContext, RuleEnv } from "./context.js";

/** The backend as a sandbox; a backend claiming `execute` must implement it. */
function sandbox(env: RuleEnv): SandboxBackendProtocol {
  expect(isSandboxBackend(env.backend), "a backend with the execute capability has execute() and id").toBe(true);
  return env.backend as SandboxBackendProtocol;
}

/** Single-quotes a string for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function registerExecuteRules(ctx: ContractContext): void {
  const needs = { needs: "execute" as const };
  describe("execute", () => {
    ctx.rule(
      "has a non-empty string id",
      async (env) => {
        const { id } = sandbox(env);
        expect(id).toBeTypeOf("string");
        expect(id.length).toBeGreaterThan(0);
      },
      needs,
    );

    ctx.rule(
      "combines stdout and stderr and returns exit code 0",
      async (env) => {
        const result = await sandbox(env).execute("echo to-stdout; echo to-stderr 1>&2");
        expect(result.exitCode).toBe(0);
        expect(result.output).toContain("to-stdout");
        expect(result.output).toContain("to-stderr");
        expect(result.truncated).toBe(false);
      },
      needs,
    );

    ctx.rule(
      "a non-zero exit is returned as the exit code, not as an error",
      async (env) => {
        const result = await sandbox(env).execute("echo failing; exit 3");
        expect(result.exitCode).toBe(3);
        expect(result.output).toContain("failing");
        expect((result as { error?: unknown }).error).toBeUndefined();
      },
      needs,
    );

    ctx.rule(
      "a timeout gives exit code 124 and says so",
      async (env) => {
        const result = await sandbox(env).execute("sleep 5", { timeoutMs: 500 });
        expect(result.exitCode).toBe(124);
        expect(result.output.toLowerCase()).toMatch(/timed out|timeout/);
      },
      { ...needs, timeout: 20_000 },
    );

    ctx.rule(
      "output beyond the cap is cut and truncated is true",
      async (env) => {
        const result = await sandbox(env).execute(
          "i=0; while [ $i -lt 3000 ]; do echo 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789; i=$((i+1)); done",
        );
        expect(result.truncated).toBe(true);
        // 303,000 bytes were produced; the default cap is 100,000 (plus a short notice).
        expect(Buffer.byteLength(result.output)).toBeLessThan(150_000);
        expect(result.output).toContain("0123456789");
      },
      { ...needs, timeout: 60_000 },
    );

    ctx.rule(
      "a file written with write is visible to commands at the same path, and the reverse",
      async (env) => {
        const path = env.at("/exec dir/it's here.txt");
        expectSuccess(await env.backend.write(path, "written by write\n"));
        const cat = await sandbox(env).execute(`cat ${shellQuote(path)}`);
        expect(cat.exitCode).toBe(0);
        expect(cat.output).toContain("written by write");
        const other = env.at("/exec dir/from-shell.txt");
        const made = await sandbox(env).execute(`printf 'made by shell\\n' > ${shellQuote(other)}`);
        expect(made.exitCode).toBe(0);
        const read = await env.backend.read(other);
        expectSuccess(read);
        expect(read.content).toBe("made by shell");
      },
      needs,
    );
  });
}
