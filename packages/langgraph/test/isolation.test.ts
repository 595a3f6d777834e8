import { randomUUID } from "node:crypto";
import { DeepfsError, encodeUtf8 } from "@deepfs/core";
import { requireOrSkipReason } from "@deepfs/harness";
import { type BaseStore, InMemoryStore } from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";

const skip = requireOrSkipReason("postgres");
const schema = `deepfs_langgraph_iso_${randomUUID().replaceAll("-", "")}`;
const pgStore = skip
  ? undefined
  : new PostgresStore({ connectionOptions: process.env.DEEPFS_PG_URL as string, schema });

afterAll(async () => {
  if (!pgStore) return;
  await pgStore.stop();
  const sql = postgres(process.env.DEEPFS_PG_URL as string, { max: 1, onnotice: () => {} });
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql.end();
});

const stores: Array<[string, () => BaseStore, string | undefined]> = [
  ["InMemoryStore", () => new InMemoryStore(), undefined],
  ["PostgresStore", () => pgStore as BaseStore, skip],
];

for (const [storeName, makeStore, skipReason] of stores) {
  describe.skipIf(skipReason !== undefined)(`nested namespace isolation on ${storeName}`, () => {
    /**
     * A tenant and its neighbours in the namespace hierarchy: a deeper and a shallower namespace
     * (siblings whose names trip prefix matching are the conformance suite's tenant rule).
     */
    async function tenants() {
      const store = makeStore();
      const root = `iso-${randomUUID()}`;
      const at = (...ns: string[]) => new StoreBackend({ store, namespace: [root, ...ns] });
      const acme = at("tenant", "acme");
      const neighbours = [at("tenant", "acme", "x"), at("tenant")];
      for (const n of neighbours) {
        expect(await n.write("/shared.txt", "neighbour secret\n")).not.toHaveProperty("error");
        expect(await n.write("/only-neighbour/n.txt", "neighbour secret\n")).not.toHaveProperty("error");
        expect(await n.write("/dir", "a file where acme has a directory")).not.toHaveProperty("error");
      }
      expect(await acme.write("/shared.txt", "acme text\n")).not.toHaveProperty("error");
      expect(await acme.write("/dir/a.txt", "acme a\n")).not.toHaveProperty("error");
      const cleanup = async () => {
        for (const b of [acme, ...neighbours]) await b.delete("/");
      };
      return { acme, neighbours, cleanup };
    }

    it("ls, glob, grep, read and download see only the backend's own namespace", async () => {
      const { acme, cleanup } = await tenants();
      try {
        expect((await acme.ls("/")).files?.map((f) => f.path)).toEqual(["/dir/", "/shared.txt"]);
        expect((await acme.glob("**/*")).files?.map((f) => f.path)).toEqual(["/dir/a.txt", "/shared.txt"]);
        expect((await acme.grep("secret")).matches).toEqual([]);
        expect((await acme.grep("acme")).matches?.map((m) => m.path)).toEqual(["/dir/a.txt", "/shared.txt"]);
        expect((await acme.read("/shared.txt")).content).toBe("acme text");
        expect((await acme.read("/only-neighbour/n.txt")).code).toBe("file_not_found");
        expect((await acme.ls("/only-neighbour")).files).toEqual([]);
        const [download] = await acme.downloadFiles(["/only-neighbour/n.txt"]);
        expect(download?.error).toBe("file_not_found");
      } finally {
        await cleanup();
      }
    });

    it("mutations never reach a neighbour, and a neighbour's files never block them", async () => {
      const { acme, neighbours, cleanup } = await tenants();
      try {
        expect((await acme.edit("/only-neighbour/n.txt", "neighbour", "x")).code).toBe("file_not_found");
        expect((await acme.delete("/only-neighbour")).code).toBe("file_not_found");
        // Neighbours hold a file at /dir: acme's directory /dir must not be blocked by it.
        expect((await acme.write("/dir/b.txt", "b")).error).toBeUndefined();
        const uploaded = await acme.uploadFiles([["/only-neighbour/n.txt/inner", encodeUtf8("ok")]]);
        expect(uploaded[0]?.error).toBeNull();
        expect((await acme.delete("/")).error).toBeUndefined();
        expect((await acme.ls("/")).files).toEqual([]);
        for (const n of neighbours) {
          expect((await n.read("/shared.txt")).content).toBe("neighbour secret");
          expect((await n.read("/only-neighbour/n.txt")).content).toBe("neighbour secret");
          expect((await n.read("/dir")).content).toBe("a file where acme has a directory");
        }
      } finally {
        await cleanup();
      }
    });
  });
}

describe("namespace validation", () => {
  const store = new InMemoryStore();

  it.each([
    ["an empty array", []],
    ["an empty component", ["a", ""]],
    ["a wildcard", ["tenant", "*"]],
    ["a period", ["tenant", "a.b"]],
    ["a colon", ["tenant", "a:b"]],
    ["a LIKE wildcard", ["tenant", "50%"]],
    ["a control character", ["tenant", "a\nb"]],
    ["the reserved root", ["langgraph", "x"]],
    ["a non-string component", ["tenant", 42]],
    ["a string instead of an array", "tenant"],
  ])("refuses %s at construction with a DeepfsError", (_, namespace) => {
    let thrown: unknown;
    try {
      new StoreBackend({ store, namespace: namespace as string[] });
    } catch (error) {
      thrown = error;
    }
    expect(DeepfsError.isInstance(thrown)).toBe(true);
    expect((thrown as DeepfsError).code).toBe("invalid_argument");
  });

  it("refuses a missing store", () => {
    expect(() => new StoreBackend({ store: undefined as unknown as BaseStore, namespace: ["a"] })).toThrow(DeepfsError);
  });

  it("resolves a namespace function on every call and returns (not throws) an invalid result", async () => {
    let tenant = "t1";
    const backend = new StoreBackend({ store, namespace: () => ["fn", tenant] });
    await backend.write("/a.txt", "one");
    tenant = "t2";
    expect((await backend.read("/a.txt")).code).toBe("file_not_found");
    expect(backend.currentNamespace()).toEqual(["fn", "t2"]);
    tenant = "t1";
    expect((await backend.read("/a.txt")).content).toBe("one");
    tenant = "bad*";
    const result = await backend.read("/a.txt");
    expect(result.code).toBe("invalid_argument");
    expect(() => backend.currentNamespace()).toThrow(DeepfsError);
  });

  it("gives the namespace function no run config outside a LangGraph run", () => {
    const seen: unknown[] = [];
    const backend = new StoreBackend({
      store,
      namespace: (ctx) => {
        seen.push(ctx);
        return ["fn"];
      },
    });
    backend.currentNamespace();
    expect(seen).toEqual([{ config: undefined, assistantId: undefined }]);
  });
});
