import type { S3Client } from "@aws-sdk/client-s3";
import { baseName, isWithin, parentDir } from "@deepfs/core";
import type { KeyMapper } from "./keys.js";
import { listPages } from "./listing.js";
import { hasObjectsBelow, headObject, type ObjectHead } from "./probe.js";

/** What stands at and above a path about to be written. */
export interface WriteSite {
  /** The object now at the path, if any. */
  existing: ObjectHead | undefined;
  /** Objects exist below the path: it is a directory. */
  isDirectory: boolean;
  /** The nearest ancestor that is a file, if any. */
  fileAncestor: string | undefined;
}

/** Every key below one directory, from one recursive listing: the files, and each directory prefix. */
interface Subtree {
  files: Set<string>;
  /** Directory prefixes (ending in `/`) that have objects below them. */
  directories: Set<string>;
}

/**
 * Keys a batch's common directory may hold for one listing of it to answer every probe of the
 * batch (two pages); past that, the batch probes per directory or per file.
 */
const SUBTREE_KEY_BUDGET = 2000;

/** Names directly inside one directory, from one delimited listing. */
interface DirectoryNames {
  files: Set<string>;
  directories: Set<string>;
}

/**
 * Answers "what is in the way of writing here" for the contract's checks, with as few requests as
 * a batch allows: ancestors are looked up once per batch, and a directory receiving many files of
 * a batch is listed once instead of probing each file (so uploading 250 files into one directory
 * costs a few listings rather than 500 extra requests). A batch whose deepest common directory
 * holds at most {@link SUBTREE_KEY_BUDGET} keys is answered by one recursive listing of it: copying
 * a tree into a new prefix costs one listing per batch instead of a HEAD and a listing per file.
 */
export class WriteProbe {
  private readonly ancestors = new Map<string, Promise<boolean>>();
  private readonly listings = new Map<string, Promise<DirectoryNames>>();
  /** Directories to list rather than probe file by file. */
  private readonly listed: Set<string>;
  /** The deepest directory holding every path of the batch (a batch of two or more). */
  private readonly common: string | undefined;
  /** Its keys, when they fit the budget (null: too many). */
  private subtree: Promise<Subtree | null> | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly keys: KeyMapper,
    private readonly pageSize: number | undefined,
    batchPaths: string[] = [],
    listThreshold = 8,
  ) {
    const perDirectory = new Map<string, number>();
    for (const path of batchPaths) perDirectory.set(parentDir(path), (perDirectory.get(parentDir(path)) ?? 0) + 1);
    this.listed = new Set([...perDirectory].filter(([, n]) => n >= listThreshold).map(([dir]) => dir));
    if (batchPaths.length >= 2) this.common = commonDirectory(batchPaths);
  }

  /** The site of a normalised path other than `/`. */
  async inspect(path: string, signal?: AbortSignal): Promise<WriteSite> {
    const ancestors: string[] = [];
    for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) ancestors.push(dir);
    const [here, ancestorIsFile] = await Promise.all([
      this.inspectPath(path, signal),
      Promise.all(ancestors.map((dir) => this.isFile(dir, signal))),
    ]);
    const blocking = ancestorIsFile.indexOf(true);
    return { ...here, fileAncestor: blocking === -1 ? undefined : ancestors[blocking] };
  }

  private async inspectPath(path: string, signal: AbortSignal | undefined): Promise<Omit<WriteSite, "fileAncestor">> {
    const key = this.keys.fileKey(path);
    const tree = await this.subtreeOf(path);
    if (tree) {
      // Only an overwrite needs the HEAD, for the ETag and the creation time.
      const existing = tree.files.has(key) ? await headObject(this.client, this.bucket, key, signal) : undefined;
      return { existing, isDirectory: tree.directories.has(this.keys.dirKey(path)) };
    }
    const parent = parentDir(path);
    if (this.listed.has(parent)) {
      const names = await this.namesIn(parent);
      const name = baseName(path);
      // Only an overwrite needs the HEAD, for the ETag and the creation time.
      const existing = names.files.has(name) ? await headObject(this.client, this.bucket, key, signal) : undefined;
      return { existing, isDirectory: names.directories.has(name) };
    }
    const [existing, isDirectory] = await Promise.all([
      headObject(this.client, this.bucket, key, signal),
      hasObjectsBelow(this.client, this.bucket, this.keys.dirKey(path), signal),
    ]);
    return { existing, isDirectory };
  }

  private async isFile(dir: string, signal: AbortSignal | undefined): Promise<boolean> {
    // Below the common directory the batch's listing knows; at or above it, one HEAD per batch.
    if (dir !== this.common) {
      const tree = await this.subtreeOf(dir);
      if (tree) return tree.files.has(this.keys.fileKey(dir));
    }
    let known = this.ancestors.get(dir);
    if (!known) {
      known = headObject(this.client, this.bucket, this.keys.fileKey(dir), signal).then((head) => head !== undefined);
      // A failed lookup must not be cached for the rest of the batch.
      known.catch(() => this.ancestors.delete(dir));
      this.ancestors.set(dir, known);
    }
    return known;
  }

  private namesIn(dir: string): Promise<DirectoryNames> {
    let names = this.listings.get(dir);
    if (!names) {
      names = this.listNames(dir);
      names.catch(() => this.listings.delete(dir));
      this.listings.set(dir, names);
    }
    return names;
  }

  private async listNames(dir: string): Promise<DirectoryNames> {
    const prefix = this.keys.dirKey(dir);
    const names: DirectoryNames = { files: new Set(), directories: new Set() };
    for await (const page of listPages(this.client, {
      bucket: this.bucket,
      prefix,
      delimiter: "/",
      pageSize: this.pageSize,
    })) {
      for (const object of page.objects) names.files.add(object.key.slice(prefix.length));
      for (const sub of page.prefixes) names.directories.add(sub.slice(prefix.length, -1));
    }
    return names;
  }

  /** The batch's subtree listing when `path` lies below the common directory and it fits the budget. */
  private subtreeOf(path: string): Promise<Subtree | null> {
    const common = this.common;
    if (common === undefined || path === common || !isWithin(path, common)) return Promise.resolve(null);
    if (!this.subtree) {
      const listing = this.listSubtree(common);
      // A failed listing must not be cached for the rest of the batch: the probes fall back to their own.
      this.subtree = listing.catch(() => null);
    }
    return this.subtree;
  }

  private async listSubtree(dir: string): Promise<Subtree | null> {
    const prefix = this.keys.dirKey(dir);
    const tree: Subtree = { files: new Set(), directories: new Set() };
    for await (const page of listPages(this.client, { bucket: this.bucket, prefix, pageSize: this.pageSize })) {
      for (const object of page.objects) {
        if (tree.files.size >= SUBTREE_KEY_BUDGET) return null;
        tree.files.add(object.key);
        for (let at = object.key.indexOf("/", prefix.length); at !== -1; at = object.key.indexOf("/", at + 1)) {
          tree.directories.add(object.key.slice(0, at + 1));
        }
      }
    }
    return tree;
  }
}

/** The deepest directory holding every one of `paths`. */
function commonDirectory(paths: string[]): string {
  let common = parentDir(paths[0] as string);
  for (const path of paths) while (!isWithin(path, common)) common = parentDir(common);
  return common;
}
