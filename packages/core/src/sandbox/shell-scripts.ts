/**
 * POSIX sh scripts that BaseSandbox runs through `execute`. They use only what both GNU coreutils/
 * findutils and busybox provide (`find -mindepth/-maxdepth/-type/-exec {} +`, `stat -c`, `grep -l
 * -F -e`, `mktemp`), quote every value with {@link shellQuote}, and never carry file contents.
 */

/** Quotes a value for POSIX sh: wrapped in `'`, each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Exit statuses the scripts use to report why they stopped. */
export const ScriptStatus = {
  ok: 0,
  notFound: 10,
  isDirectory: 11,
  notADirectory: 12,
  permissionDenied: 13,
} as const;

/**
 * Marks the end of a script's output: `<marker><exit status>`. A missing marker means the output was
 * cut (the sandbox caps command output) or the command never finished.
 */
export const STATUS_MARKER = "\ndeepfs-status:";

/**
 * One listing record per entry: `//<raw mode hex> <size> <mtime seconds> <path>\n`. A path cannot
 * contain `//`, so records split safely on `\n//` even when names contain newlines, and no NUL byte
 * has to survive the sandbox's output decoding.
 */
const STAT_FORMAT = shellQuote("//%f %s %Y %n");

// Kernel pseudo-filesystems: reading them can block or never end, and they hold no agent files.
const PRUNE_PSEUDO_FS = "\\( -path /proc -o -path /sys -o -path /dev \\) -prune -o";

// find exits non-zero when an entry vanishes or a symlink dangles; only "command not runnable" counts.
const FIND_FAILED = 's=$?; [ "$s" -ge 126 ] && exit "$s"; exit 0';

/** Wraps a script so that its stdout is returned inline, followed by the status marker. */
export function inlineCommand(script: string): string {
  return `(\n${script}\n) 2>/dev/null; printf '${STATUS_MARKER.replace("\n", "\\n")}%s' "$?"`;
}

/**
 * Wraps a script so that its stdout goes to a temporary file, for output larger than the sandbox
 * returns inline. Prints the marker, the status, `:` and the file's path.
 */
export function fileCommand(script: string): string {
  return `o=$(mktemp) || exit 1; (\n${script}\n) >"$o" 2>/dev/null; printf '${STATUS_MARKER.replace("\n", "\\n")}%s:%s' "$?" "$o"`;
}

/** Direct children of `dir` (following symlinks); a missing directory or a file lists nothing. */
export function lsScript(dir: string): string {
  return [
    `d=${shellQuote(dir)}`,
    '[ -d "$d" ] || exit 0',
    `[ -r "$d" ] && [ -x "$d" ] || exit ${ScriptStatus.permissionDenied}`,
    `find "$d" -mindepth 1 -maxdepth 1 -exec stat -L -c ${STAT_FORMAT} {} +`,
    FIND_FAILED,
  ].join("\n");
}

/** Every regular file below `root` (skipping `/proc`, `/sys` and `/dev`). */
export function listFilesScript(root: string): string {
  return [
    `r=${shellQuote(root)}`,
    '[ -d "$r" ] || exit 0',
    `find "$r" ${PRUNE_PSEUDO_FS} -type f -exec stat -c ${STAT_FORMAT} {} +`,
    FIND_FAILED,
  ].join("\n");
}

/**
 * Regular files at or below `root` (skipping `/proc`, `/sys` and `/dev`) of at most `maxBytes`
 * bytes containing `pattern` as a byte substring, one path a line. Larger files are not searched
 * (grep's size rule): `-size -Nc` is "fewer than N bytes" in GNU and busybox find.
 */
export function grepCandidatesScript(root: string, pattern: string, maxBytes: number): string {
  const size = Number.isFinite(maxBytes) ? ` -size -${Math.floor(maxBytes) + 1}c` : "";
  return [
    `r=${shellQuote(root)}`,
    '[ -e "$r" ] || exit 0',
    // Byte-wise matching: a UTF-8 substring of valid UTF-8 text is exactly a byte substring.
    "LC_ALL=C; export LC_ALL",
    `find "$r" ${PRUNE_PSEUDO_FS} -type f${size} -exec grep -l -F -e ${shellQuote(pattern)} -- {} +`,
    FIND_FAILED,
  ].join("\n");
}

/**
 * One line per path, in order: the size in bytes of a regular file (symlinks followed), `s` for
 * anything else that exists (a FIFO or a device, which a download could never finish), `-` when
 * the path is missing or is a directory (the download then answers why).
 */
export function fileSizesScript(paths: string[]): string {
  return [
    `set -- ${paths.map(shellQuote).join(" ")}`,
    "for p do",
    '  if [ -d "$p" ] || [ ! -e "$p" ]; then echo -',
    '  elif [ -f "$p" ]; then stat -L -c %s -- "$p" 2>/dev/null || echo -',
    "  else echo s",
    "  fi",
    "done",
  ].join("\n");
}

/**
 * Where each directory really is, as two records per argument, in order: `//<real path>\n` of its
 * deepest existing ancestor (itself, when it exists; symlinks resolved; `//?` when that fails),
 * then `//<missing names>\n` (`/a/b`, or empty). A real path holds no `//`, so records split
 * safely on `\n//` whatever the names hold.
 */
export function realDirsScript(dirs: string[]): string {
  return [
    `set -- ${dirs.map(shellQuote).join(" ")}`,
    "for p do",
    "  m=",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: sh parameter expansion, not a JS template.
    '  while [ ! -d "$p" ]; do m="/${p##*/}$m"; p=${p%/*}; p=${p:-/}; done',
    `  printf //; readlink -f -- "$p" || echo '?'`,
    `  printf '//%s\\n' "$m"`,
    "done",
  ].join("\n");
}

/** Birth time (GNU stat; `0`, `-` or `W` when unknown) and modification time of a file, in seconds. */
export function fileTimesScript(path: string): string {
  return `stat -L -c '%W %Y' -- ${shellQuote(path)}`;
}

/**
 * Inspects the target of a write: prints `E` when `path` is an existing file, `N` when it does not
 * exist; exits `isDirectory` when it is a directory, and `notADirectory` (printing the blocking
 * path) when an ancestor is a file.
 */
export function writeTargetScript(path: string, parent: string): string {
  return [
    `p=${shellQuote(path)}`,
    `[ -d "$p" ] && exit ${ScriptStatus.isDirectory}`,
    'if [ -e "$p" ]; then printf E; exit 0; fi',
    `a=${shellQuote(parent)}`,
    // Climb to the nearest existing ancestor; it must be a directory.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: sh parameter expansion, not a JS template.
    'while [ ! -e "$a" ]; do a="${a%/*}"; [ -z "$a" ] && a=/; done',
    `if [ ! -d "$a" ]; then printf '%s' "$a"; exit ${ScriptStatus.notADirectory}; fi`,
    "printf N",
  ].join("\n");
}

/** Removes a file or a directory tree. */
export function deleteScript(path: string): string {
  return [
    `p=${shellQuote(path)}`,
    `[ -e "$p" ] || [ -L "$p" ] || exit ${ScriptStatus.notFound}`,
    `rm -rf -- "$p" || exit ${ScriptStatus.permissionDenied}`,
  ].join("\n");
}

/** One entry of a listing produced with the stat record format. */
export interface StatRecord {
  path: string;
  isDirectory: boolean;
  isFile: boolean;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** Parses the records printed by {@link lsScript} and {@link listFilesScript}; malformed ones are skipped. */
export function parseStatRecords(output: string): StatRecord[] {
  const records: StatRecord[] = [];
  const chunks = `\n${output}`.split("\n//");
  for (const chunk of chunks.slice(1)) {
    const body = chunk.endsWith("\n") ? chunk.slice(0, -1) : chunk;
    const match = /^([0-9a-f]+) (\d+) (\d+) (\/.*)$/s.exec(body);
    if (!match) continue;
    const [, modeHex, size, mtime, path] = match as unknown as [string, string, string, string, string];
    const type = Number.parseInt(modeHex, 16) & S_IFMT;
    records.push({
      path,
      isDirectory: type === S_IFDIR,
      isFile: type === S_IFREG,
      size: Number(size),
      mtime: Number(mtime),
    });
  }
  return records;
}
