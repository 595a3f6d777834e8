import { dirPrefix, parentDir } from "@deepfs/core";

/**
 * The paths strictly below `dir` are exactly those in `[from, to)` under `COLLATE "C"`: they start
 * with `dir/`, and `0` is the byte after `/`. A range needs no LIKE escaping and uses the primary key.
 */
export function descendantRange(dir: string): { from: string; to: string } {
  const from = dirPrefix(dir);
  return { from, to: `${from.slice(0, -1)}0` };
}

/** `/a/b/c` → `["/", "/a", "/a/b"]`: the directories a file at `path` lies in, root first. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let dir = parentDir(path); ; dir = parentDir(dir)) {
    out.push(dir);
    if (dir === "/") break;
  }
  return out.reverse();
}
