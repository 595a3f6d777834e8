import { Readable } from "node:stream";
import { extract, pack } from "tar-stream";

/** One file of an archive to put into a container. */
export interface ArchiveFile {
  /** Path inside the archive, relative (no leading `/`). */
  name: string;
  bytes: Uint8Array;
}

/** Owner of the entries of an archive. */
export interface ArchiveOwner {
  uid: number;
  gid: number;
}

/**
 * A tar of the given files (mode 0644), for a command to unpack as the sandbox user (who then owns
 * them, whatever the entries say).
 */
export async function buildArchive(files: ArchiveFile[]): Promise<Buffer> {
  const archive = pack();
  const done = collect(archive);
  const mtime = new Date();
  for (const file of files) {
    await new Promise<void>((resolve, reject) => {
      archive.entry(
        { name: file.name, type: "file", mode: 0o644, mtime, size: file.bytes.byteLength },
        Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength),
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }
  archive.finalize();
  return done;
}

/** A tar of one directory entry owned by `owner`, to create or re-own `dir` (relative). */
export async function buildDirArchive(dir: string, owner: ArchiveOwner, mode = 0o755): Promise<Buffer> {
  const archive = pack();
  const done = collect(archive);
  archive.entry({ uid: owner.uid, gid: owner.gid, mtime: new Date(), name: `${dir}/`, type: "directory", mode });
  archive.finalize();
  return done;
}

/**
 * Reads the regular files of a tar stream into memory by absolute path (`./a/b` → `/a/b`). Hard
 * links resolve to the content of their target.
 */
export async function readArchive(source: Readable | Buffer): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const parser = extract();
  const finished = new Promise<void>((resolve, reject) => {
    parser.on("finish", resolve);
    parser.on("error", reject);
  });
  parser.on("entry", (header, stream, next) => {
    const name = absoluteName(header.name);
    const chunks: Buffer[] = [];
    // A tar cut off mid-entry (the container went away) errors the entry stream too; the parser's
    // own error rejects the read, and an unheard error here would crash the process.
    stream.on("error", () => {});
    stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on("end", () => {
      if (header.type === "file" || header.type === "contiguous-file") {
        files.set(name, new Uint8Array(Buffer.concat(chunks)));
      } else if (header.type === "link" && header.linkname) {
        const target = files.get(absoluteName(header.linkname));
        if (target) files.set(name, target.slice());
      }
      next();
    });
    stream.resume();
  });
  const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  // pipe() does not forward a source error: end the parse with it instead of hanging.
  input.on("error", (error) => parser.destroy(error));
  input.pipe(parser);
  await finished;
  return files;
}

function absoluteName(name: string): string {
  return `/${name.replace(/^(\.\/|\/)+/, "").replace(/\/$/, "")}`;
}

/** Reads a tar-stream (streamx) readable to its end. */
function collect(stream: ReturnType<typeof pack>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // A tar cut off mid-entry (the container went away) errors the entry stream too; the parser's
    // own error rejects the read, and an unheard error here would crash the process.
    stream.on("error", () => {});
    stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}
