import { DeepfsError } from "@deepfs/core";
import { describe, expect, it } from "vitest";
import { maskUrl, parseBackendUrl, parseLocation, scrubSecrets, secretsOf } from "../src/index.js";

function errorOf(fn: () => unknown): DeepfsError {
  try {
    fn();
  } catch (error) {
    if (DeepfsError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a DeepfsError");
}

describe("parseBackendUrl", () => {
  it("reads plain paths and file URLs as LocalBackend directories", () => {
    expect(parseBackendUrl("./workspace", { cwd: "/home/me" })).toEqual({
      scheme: "file",
      rootDir: "/home/me/workspace",
    });
    expect(parseBackendUrl("/srv/files")).toEqual({ scheme: "file", rootDir: "/srv/files" });
    expect(parseBackendUrl("file:///srv/my%20files")).toEqual({ scheme: "file", rootDir: "/srv/my files" });
  });

  it("reads s3 URLs: bucket, prefix and the client options of the query", () => {
    expect(parseBackendUrl("s3://bucket")).toEqual({ scheme: "s3", bucket: "bucket" });
    expect(
      parseBackendUrl("s3://agent-files/tenants/acme/?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=1"),
    ).toEqual({
      scheme: "s3",
      bucket: "agent-files",
      prefix: "tenants/acme",
      endpointUrl: "http://127.0.0.1:9000",
      region: "eu-west-1",
      forcePathStyle: true,
    });
    expect(parseBackendUrl("s3://b/p?path-style=0")).toMatchObject({ forcePathStyle: false });
  });

  it("never takes S3 credentials from the URL", () => {
    const inAuthority = errorOf(() => parseBackendUrl("s3://AKIA:hunter2@bucket/p"));
    expect(inAuthority.code).toBe("invalid_argument");
    expect(inAuthority.message).toContain("AWS SDK");
    expect(inAuthority.message).not.toContain("hunter2");
    const inQuery = errorOf(() => parseBackendUrl("s3://bucket/p?secret=hunter2"));
    expect(inQuery.message).toContain("unknown parameter 'secret'");
    expect(inQuery.message).not.toContain("hunter2");
  });

  it("reads postgres URLs, keeping driver parameters and taking out deepfs's own", () => {
    expect(
      parseBackendUrl(
        "postgres://app:s3cret@db.local:5433/app?sslmode=require&table=files&schema=agents&namespace=acme",
      ),
    ).toEqual({
      scheme: "postgres",
      url: "postgres://app:s3cret@db.local:5433/app?sslmode=require",
      table: "files",
      schema: "agents",
      namespace: "acme",
    });
    expect(parseBackendUrl("postgresql://localhost/app")).toEqual({
      scheme: "postgres",
      url: "postgresql://localhost/app",
    });
    expect(errorOf(() => parseBackendUrl("postgres://h/db?namespace=a&namespace=b")).message).toContain("twice");
  });

  it("reads pglite URLs: a data directory (absolute or relative) or none (in memory)", () => {
    expect(parseBackendUrl("pglite:///data/pg?namespace=acme")).toEqual({
      scheme: "pglite",
      dataDir: "/data/pg",
      namespace: "acme",
    });
    expect(parseBackendUrl("pglite:./pgdata", { cwd: "/home/me" })).toEqual({
      scheme: "pglite",
      dataDir: "/home/me/pgdata",
    });
    expect(parseBackendUrl("pglite:")).toEqual({ scheme: "pglite" });
    expect(errorOf(() => parseBackendUrl("pglite://host/data")).message).toContain("a host");
  });

  it("reads docker and memory URLs", () => {
    expect(parseBackendUrl("docker:?runtime=busybox")).toEqual({ scheme: "docker", runtime: "busybox" });
    expect(parseBackendUrl("docker:")).toEqual({ scheme: "docker" });
    expect(parseBackendUrl("docker://sandbox-1")).toEqual({ scheme: "docker", container: "sandbox-1" });
    expect(parseBackendUrl("memory:")).toEqual({ scheme: "memory" });
    expect(errorOf(() => parseBackendUrl("docker://c?runtime=busybox")).message).toContain("not both");
    expect(errorOf(() => parseBackendUrl("memory:x")).code).toBe("invalid_argument");
  });

  it("turns version history on for memory: with history=1 or history-max-versions=N", () => {
    expect(parseBackendUrl("memory:?history=1")).toEqual({ scheme: "memory", history: true });
    expect(parseBackendUrl("memory:?history=0")).toEqual({ scheme: "memory", history: false });
    expect(parseBackendUrl("memory:?history-max-versions=5")).toEqual({
      scheme: "memory",
      history: { maxVersions: 5 },
    });
    expect(parseBackendUrl("memory:?history=1&history-max-versions=2")).toEqual({
      scheme: "memory",
      history: { maxVersions: 2 },
    });
    expect(parseLocation("memory:/notes/a.md?history=1")).toMatchObject({
      url: "memory:?history=1",
      spec: { scheme: "memory", history: true },
      path: "/notes/a.md",
    });
    for (const bad of ["memory:?history=maybe", "memory:?history-max-versions=0", "memory:?history-max-versions=1.5"]) {
      expect(errorOf(() => parseBackendUrl(bad)).code).toBe("invalid_argument");
    }
    expect(errorOf(() => parseBackendUrl("memory:?history=0&history-max-versions=3")).message).toContain("drop one");
    expect(errorOf(() => parseBackendUrl("memory:?colour=red")).message).toContain("unknown parameter 'colour'");
  });

  it("turns history on for postgres: and pglite:, kept out of the connection URL", () => {
    expect(parseBackendUrl("postgres://app:s3cret@db/app?history=1&namespace=t&sslmode=disable")).toEqual({
      scheme: "postgres",
      url: "postgres://app:s3cret@db/app?sslmode=disable",
      namespace: "t",
      history: true,
    });
    expect(parseBackendUrl("pglite:///data/pg?history-max-versions=3")).toEqual({
      scheme: "pglite",
      dataDir: "/data/pg",
      history: { maxVersions: 3 },
    });
    expect(errorOf(() => parseBackendUrl("postgres://db/app?history=1&history=0")).message).toContain("given twice");
  });

  it("reads history parameters on file URLs, which need a root directory as a location", () => {
    expect(parseBackendUrl("file:///srv/files?history=1")).toEqual({
      scheme: "file",
      rootDir: "/srv/files",
      history: true,
    });
    expect(parseBackendUrl("file:///srv/my%20files?history-max-versions=4")).toEqual({
      scheme: "file",
      rootDir: "/srv/my files",
      history: { maxVersions: 4 },
    });
    expect(errorOf(() => parseBackendUrl("file:///srv/files?depth=1")).message).toContain("unknown parameter");
    expect(parseLocation("file:///srv/files?history=1#/a.md")).toMatchObject({
      spec: { scheme: "file", rootDir: "/srv/files", history: true },
      path: "/a.md",
    });
    expect(errorOf(() => parseLocation("file:///srv/files/a.md?history=1")).message).toContain("#/path");
  });

  it("refuses history parameters on backends that keep no history, saying so", () => {
    expect(parseBackendUrl("s3://bucket/p?history=1")).toMatchObject({ scheme: "s3", prefix: "p", history: true });
    for (const url of ["docker:?history=1"]) {
      const error = errorOf(() => parseBackendUrl(url));
      expect(error.code).toBe("invalid_argument");
      expect(error.message).toContain("keep no version history");
      expect(error.message).toContain("memory:?history=1");
      expect(error.message).not.toContain("s3cret");
    }
  });

  it("refuses unknown schemes and parameters with a hint", () => {
    const scheme = errorOf(() => parseBackendUrl("ftp://host/dir"));
    expect(scheme.code).toBe("invalid_argument");
    expect(scheme.message).toContain("unknown scheme 'ftp:'");
    expect(scheme.message).toContain("./ftp://host/dir");
    expect(errorOf(() => parseBackendUrl("s3://b?endpoint=localhost:9000")).message).toContain("http(s)://host");
    expect(errorOf(() => parseBackendUrl("pglite:///d?tabel=x")).message).toContain("known parameters: table");
    expect(errorOf(() => parseBackendUrl("")).code).toBe("invalid_argument");
    expect(errorOf(() => parseBackendUrl("s3://")).message).toContain("no bucket");
  });
});

describe("maskUrl", () => {
  it("masks the password and secret parameters, and nothing else", () => {
    expect(maskUrl("postgres://app:s3cret@db:5432/app?sslmode=require")).toBe(
      "postgres://app:***@db:5432/app?sslmode=require",
    );
    expect(maskUrl("postgres://app:p%40ss@db/app?password=x&namespace=a")).toBe(
      "postgres://app:***@db/app?password=***&namespace=a",
    );
    expect(maskUrl("postgres://a:b@c@host/db")).toBe("postgres://a:***@host/db");
    expect(maskUrl("postgres://app@db/app")).toBe("postgres://app@db/app");
    // A password typed without percent-encoding may hold the characters that end a URL's parts.
    for (const password of ["pa/ss", "pa#ss", "pa?ss", "p/a?s#s@x"]) {
      const url = `postgres://user:${password}@host/db?bogus=1`;
      expect(maskUrl(url)).toBe("postgres://user:***@host/db?bogus=1");
      expect(scrubSecrets(`failed: ${url} (${password})`, secretsOf(url))).not.toContain(password);
    }
    expect(maskUrl("s3://bucket/p?token=abc#/x")).toBe("s3://bucket/p?token=***#/x");
    expect(maskUrl("not a url: at all")).toBe("not a url: at all");
  });

  it("never shows a password in a parse error", () => {
    const error = errorOf(() => parseBackendUrl("postgres://app:s3cret@db/app?namespace="));
    expect(error.message).toContain("postgres://app:***@db/app");
    expect(error.message).not.toContain("s3cret");
  });

  it("finds secrets to scrub from any text", () => {
    const secrets = secretsOf("postgres://app:p%40ss@db/app?password=other");
    expect(secrets).toEqual(expect.arrayContaining(["p%40ss", "p@ss", "other"]));
    expect(scrubSecrets("auth failed for p@ss and other", secrets)).toBe("auth failed for *** and ***");
  });
});

describe("parseLocation", () => {
  it("splits each scheme into a backend and a path inside it", () => {
    expect(parseLocation("./work/notes.md", { cwd: "/home/me" })).toMatchObject({
      url: "file:///",
      path: "/home/me/work/notes.md",
    });
    expect(parseLocation("./work/", { cwd: "/home/me" }).path).toBe("/home/me/work/");
    expect(parseLocation("file:///srv/www/")).toMatchObject({ url: "file:///", path: "/srv/www/" });
    expect(parseLocation("s3://bucket/tenant/src/?endpoint=http://h:9").path).toBe("/tenant/src/");
    expect(parseLocation("s3://bucket/tenant/src/?endpoint=http://h:9")).toMatchObject({
      url: "s3://bucket?endpoint=http://h:9",
      spec: { scheme: "s3", bucket: "bucket", endpointUrl: "http://h:9" },
    });
    expect(parseLocation("postgres://u:p@h/db/notes/a.md?namespace=acme")).toMatchObject({
      url: "postgres://u:p@h/db?namespace=acme",
      spec: { scheme: "postgres", url: "postgres://u:p@h/db", namespace: "acme" },
      path: "/notes/a.md",
    });
    expect(parseLocation("pglite:///data/pg")).toMatchObject({ spec: { dataDir: "/data/pg" }, path: "/" });
    expect(parseLocation("memory:/a/b.md")).toMatchObject({ url: "memory:", path: "/a/b.md" });
    expect(parseLocation("docker:/workspace/?runtime=busybox")).toMatchObject({
      spec: { scheme: "docker", runtime: "busybox" },
      path: "/workspace/",
    });
  });

  it("takes everything after '#' as the path, literally", () => {
    expect(parseLocation("s3://bucket/tenant#/src/a?b#c.ts")).toMatchObject({
      spec: { scheme: "s3", bucket: "bucket", prefix: "tenant" },
      path: "/src/a?b#c.ts",
    });
    expect(parseLocation("pglite:///data/pg?namespace=n#/notes/a.md")).toMatchObject({
      spec: { scheme: "pglite", dataDir: "/data/pg", namespace: "n" },
      path: "/notes/a.md",
    });
    expect(parseLocation("file:///srv/www#/index.html")).toMatchObject({
      spec: { scheme: "file", rootDir: "/srv/www" },
      path: "/index.html",
    });
    expect(errorOf(() => parseLocation("memory:#relative")).message).toContain("must start with '/'");
  });
});
