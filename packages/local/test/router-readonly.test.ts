import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CompositeBackend } from "@deepfs/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../src/index.js";
import { tempRoot } from "./temp-root.js";

// A default LocalBackend at R and a route on R/docs: the route's storage lies inside the default's,
// which the router cannot see. Deleting an ancestor through the default would wipe the route's files,
// so a delete above a read-only mount must be refused before any member deletes anything.
let root: ReturnType<typeof tempRoot>;
beforeEach(() => {
  root = tempRoot();
  mkdirSync(join(root.dir, "docs"));
  mkdirSync(join(root.dir, "notes"));
  writeFileSync(join(root.dir, "docs/guide.md"), "# Guide\n");
  writeFileSync(join(root.dir, "notes/todo.md"), "- ship\n");
});
afterEach(() => root.remove());

describe("a read-only route stored inside the default LocalBackend's directory", () => {
  const routers = {
    "declared read-only in the route table": () =>
      new CompositeBackend(new LocalBackend({ rootDir: root.dir }), {
        "/docs": { backend: new LocalBackend({ rootDir: join(root.dir, "docs") }), readOnly: true },
      }),
    "a LocalBackend opened with readOnly: true": () =>
      new CompositeBackend(new LocalBackend({ rootDir: root.dir }), {
        "/docs/": new LocalBackend({ rootDir: join(root.dir, "docs"), readOnly: true }),
      }),
  };

  for (const [label, create] of Object.entries(routers)) {
    it(`survives every delete that contains it (${label})`, async () => {
      const composite = create();
      for (const target of ["/", "/docs", "/docs/guide.md"]) {
        const answer = await composite.delete(target);
        expect(answer, target).toMatchObject({ code: "read_only", error: expect.stringContaining(`'${target}'`) });
      }
      expect(readFileSync(join(root.dir, "docs/guide.md"), "utf8")).toBe("# Guide\n");
      expect(readFileSync(join(root.dir, "notes/todo.md"), "utf8")).toBe("- ship\n");
      // A delete beside the mount still works, and leaves the mount's files alone.
      expect(await composite.delete("/notes")).toEqual({ path: "/notes" });
      expect(existsSync(join(root.dir, "notes"))).toBe(false);
      expect((await composite.read("/docs/guide.md")).content).toBe("# Guide");
    });
  }

  it("clears a writable route stored inside the default's directory together with the default", async () => {
    const composite = new CompositeBackend(new LocalBackend({ rootDir: root.dir }), {
      "/docs": new LocalBackend({ rootDir: join(root.dir, "docs") }),
    });
    expect(await composite.delete("/")).toEqual({ path: "/" });
    expect(existsSync(join(root.dir, "docs/guide.md"))).toBe(false);
    expect(existsSync(join(root.dir, "notes/todo.md"))).toBe(false);
  });
});
