// StoreBackend with `history` on (issue #22): the history rules over an InMemoryStore, tenants as
// sibling namespaces and two backends on one namespace as two processes; versions live in a
// namespace of their own (`["deepfs-history", ...namespace]`) that no StoreBackend can be given.
import { randomUUID } from "node:crypto";
import { createContractContext, registerHistoryRules } from "@deepfs/conformance";
import { InMemoryStore } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { StoreBackend } from "../src/index.js";

const store = new InMemoryStore();
/** A tenant name as a namespace label: StoreBackend refuses `%` and `\\` there. */
const allowed = (name: string) => name.replace(/[%\\]/g, "_");

describe("history of a StoreBackend (InMemoryStore)", () => {
  const create = () => {
    const namespace = ["deepfs", `h-${randomUUID()}`];
    return {
      backend: new StoreBackend({ store, namespace, history: true }),
      peer: () => new StoreBackend({ store, namespace, history: true }),
    };
  };
  const tenant = (name: string, run: string) =>
    new StoreBackend({ store, namespace: ["deepfs", run, allowed(name)], history: true });
  registerHistoryRules(createContractContext({ name: "StoreBackend history", create, tenant, peers: true }), {
    peers: true,
  });
});

describe("history of a StoreBackend keeping 20 versions", () => {
  const create = () =>
    new StoreBackend({ store, namespace: ["deepfs", `h-${randomUUID()}`], history: { maxVersions: 20 } });
  registerHistoryRules(createContractContext({ name: "StoreBackend history maxVersions 20", create }), {
    maxVersions: 20,
  });
});

describe("where StoreBackend keeps versions", () => {
  it("in a namespace apart from the files that no StoreBackend may be given, out of reach of every path", async () => {
    const own = new InMemoryStore();
    const backend = new StoreBackend({ store: own, namespace: ["app", "u1"], history: true });
    await backend.write("/a.txt", "one");
    await backend.write("/a.txt", "two");
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/a.txt"]);
    expect((await backend.glob("**", "/")).files?.map((f) => f.path)).toEqual(["/a.txt"]);
    const namespaces = await own.listNamespaces({});
    // The history's directories are namespaces below it, after the marker no user namespace may hold.
    expect(namespaces).toContainEqual(["deepfs-history", "app", "u1", "deepfs-history", "log"]);
    expect(namespaces.every((ns) => ns[0] === "deepfs-history" || ns.join("/") === "app/u1")).toBe(true);
    expect(() => new StoreBackend({ store: own, namespace: ["app", "u1", "deepfs-history"] })).toThrow(/reserved/);
    const fn = new StoreBackend({ store: own, namespace: () => ["app", "deepfs-history"] });
    expect((await fn.read("/x")).code).toBe("invalid_argument");
    // History off: the methods answer unsupported, nothing is kept.
    const plain = new StoreBackend({ store: own, namespace: ["app", "u2"] });
    await plain.write("/a.txt", "x");
    expect((await plain.history("/a.txt")).code).toBe("unsupported");
    expect(await own.listNamespaces({ prefix: ["app", "u2"] })).toEqual([["app", "u2"]]);
  });

  it("keeps the histories of nested namespaces apart (['a'] and ['a', 'log'])", async () => {
    const own = new InMemoryStore();
    const outer = new StoreBackend({ store: own, namespace: ["a"], history: true });
    const inner = new StoreBackend({ store: own, namespace: ["a", "log"], history: true });
    await outer.write("/f.txt", "outer");
    await inner.write("/f.txt", "inner one");
    await inner.write("/f.txt", "inner two");
    expect((await outer.history("/f.txt")).versions).toHaveLength(1);
    expect((await inner.history("/f.txt")).versions).toHaveLength(2);
    const snapshot = (await outer.snapshot()).snapshot as string;
    await inner.write("/g.txt", "inner only");
    expect((await outer.changesSince(snapshot)).changes).toEqual([]);
  });

  it("reads a file's history without paging through the versions of other files", async () => {
    const own = new InMemoryStore();
    const backend = new StoreBackend({ store: own, namespace: ["big"], history: true });
    for (let i = 0; i < 300; i++) await backend.write(`/other/${i}.txt`, `v${i}`);
    await backend.write("/mine.txt", "one");
    await backend.write("/mine.txt", "two");
    let itemsSearched = 0;
    const search = own.search.bind(own);
    own.search = async (...args: Parameters<InMemoryStore["search"]>) => {
      const items = await search(...args);
      itemsSearched += items.length;
      return items;
    };
    expect((await backend.history("/mine.txt")).versions?.map((v) => v.op)).toEqual(["write", "write"]);
    await backend.write("/mine.txt", "three");
    expect(itemsSearched).toBeLessThan(10);
  });

  it("a namespace function's history follows the namespace of each call", async () => {
    const own = new InMemoryStore();
    let user = "a";
    const backend = new StoreBackend({ store: own, namespace: () => ["users", user], history: true });
    await backend.write("/n.txt", "a's");
    user = "b";
    await backend.write("/n.txt", "b's");
    expect((await backend.history("/n.txt")).versions).toHaveLength(1);
    user = "a";
    const [v] = (await backend.history("/n.txt")).versions ?? [];
    expect((await backend.readVersion("/n.txt", v?.version as string)).data?.content).toBe("a's");
  });
});
