import { describe, expect } from "vitest";
import { expectFailure, expectSuccess, pathsOf } from "./assertions.js";
import type { ContractContext } from "./context.js";
import { seed } from "./fixtures.js";

/**
 * User file names that backends used for their own temporary files before those moved to names no
 * path can give (core's `internalTempName`): LocalBackend's and DockerSandbox's old patterns.
 */
const OLD_TEMP_NAMES = [".deepfs-0123456789abcdef.tmp", ".deepfs-0123456789ab-1.tmp"];

/**
 * Backends keep their temporary files under names that no user path can name; every name a user
 * can give is a user file, listed, searched and deleted like any other.
 */
export function registerInternalNameRules(ctx: ContractContext): void {
  describe("internal names", () => {
    ctx.rule("a user file named like a temp file is listed, globbed, grepped and deleted", async (env) => {
      const tree = Object.fromEntries(OLD_TEMP_NAMES.map((name) => [`/tn/${name}`, "needle\n"]));
      await seed(env, { ...tree, "/tn/plain.txt": "needle\n" });
      const names = [...OLD_TEMP_NAMES, "plain.txt"].map((name) => env.at(`/tn/${name}`)).sort();
      expect(pathsOf((await env.backend.ls(env.at("/tn"))).files).sort()).toEqual(names);
      expect(pathsOf((await env.backend.glob("**", env.at("/tn"))).files).sort()).toEqual(names);
      expect(pathsOf((await env.backend.glob("tn/.deepfs-*", env.at("/"))).files).sort()).toEqual(
        OLD_TEMP_NAMES.map((name) => env.at(`/tn/${name}`)).sort(),
      );
      const grep = await env.backend.grep("needle", env.at("/tn"));
      expectSuccess(grep);
      expect((grep.matches ?? []).map((match) => match.path).sort()).toEqual(names);
      for (const name of OLD_TEMP_NAMES) {
        expect((await env.backend.read(env.at(`/tn/${name}`))).content).toBe("needle");
      }
      expectSuccess(await env.backend.delete(env.at("/tn")));
      for (const path of names) expectFailure(await env.backend.read(path), "file_not_found");
      expect(pathsOf((await env.backend.glob("**", env.at("/"))).files)).toEqual([]);
    });
  });
}
