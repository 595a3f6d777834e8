/**
 * POSIX sh programs run inside the container with `sh -c SCRIPT sh ARGS...`. They only use
 * utilities that busybox and GNU coreutils both provide, and take every path as an argument (never
 * spliced into the script), so names with spaces, quotes or newlines are safe.
 */

import { INTERNAL_TEMP_PREFIX, shellQuote } from "@deepfs/core";

/**
 * Sets `q` to the prefix of the temporary file an upload writes next to its target before renaming
 * it into place: the file is `$q$n-$i.tmp`, core's `internalTempName(nonce-index)`, a name no user
 * path can give (it contains a backslash, so it is single-quoted here and only ever used quoted).
 */
const TEMP_PREFIX_VARIABLE = `q=${shellQuote(INTERNAL_TEMP_PREFIX)}`;

/**
 * Shell function `place TARGET`, shared by the uploads of {@link UPLOAD_SCRIPT} and
 * {@link CHANNEL_SCRIPT}: writes the bytes of upload `$i` (nonce `$n`) to TARGET and prints one
 * status word, as the sandbox user. The caller defines `fill` (writes the bytes to the file `$x`)
 * and `spill` (prints them). The bytes go to a temporary file next to the target, named by core's
 * `internalTempName` (hidden from listings, unnameable by users), that is renamed over it: a reader
 * sees the old file or the new one, never a part. An existing file the user may not write is
 * refused; the replacement keeps its permission bits (`stat -c %a`) but belongs to the sandbox
 * user, and no longer shares a hard link. A symlink
 * is written through (its target is replaced). When the directory takes no new entry, or refuses
 * the rename (a sticky directory and a file of someone else's), the file is overwritten in place
 * like a shell redirection. A replaced file's birth time is printed (`ok OLD NEW`) when `stat`
 * knows it (GNU), so that `created_at` can survive the new inode.
 */
const PLACE_FUNCTION = `place() {
  ${TEMP_PREFIX_VARIABLE}
  t=$1; p=\${t%/*}; p=\${p:-/}
  if [ -d "$t" ]; then echo is_directory; return; fi
  if [ -f "$t" ]; then
    if [ ! -w "$t" ]; then echo permission_denied; return; fi
    if [ -L "$t" ]; then t=$(readlink -f -- "$t") || { echo failed; return; }; p=\${t%/*}; p=\${p:-/}; fi
    if [ ! -w "$p" ]; then
      if spill 2>/dev/null > "$t"; then echo ok; else echo failed; fi
      return
    fi
    v=$(stat -L -c '%a %W' -- "$t" 2>/dev/null); x="$p/$q$n-$i.tmp"
    if fill 2>/dev/null && chmod "\${v%% *}" "$x" 2>/dev/null && mv -fT -- "$x" "$t" 2>/dev/null; then
      b=\${v#* }
      case $b in ''|0|*[!0-9]*) echo ok ;; *) echo "ok $b $(stat -c %W -- "$t" 2>/dev/null)" ;; esac
      return
    fi
    if [ -f "$x" ] && cat -- "$x" 2>/dev/null > "$t"; then echo ok; else echo failed; fi
    rm -f -- "$x" 2>/dev/null
    return
  fi
  if ! { [ -d "$p" ] || mkdir -p -- "$p" 2>/dev/null; }; then
    while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=\${p%/*}; p=\${p:-/}; done
    if [ -d "$p" ]; then echo permission_denied; else echo not_a_directory; fi
    return
  fi
  x="$p/$q$n-$i.tmp"
  if fill 2>/dev/null && mv -fT -- "$x" "$t" 2>/dev/null; then echo ok; return; fi
  rm -f -- "$x" 2>/dev/null
  if [ -w "$p" ]; then echo failed; else echo permission_denied; fi
}`;

/**
 * Writes uploads as the sandbox user, so that the kernel enforces the user's permissions. stdin is
 * a tar of files named `1`, `2`, ... that is unpacked into the private staging dir `$1` (mode
 * 0700); `$2` is a nonce, then one target per staged file. Prints one status line per target (see
 * {@link PLACE_FUNCTION}: every file, new or replaced, is renamed into place whole).
 */
export const UPLOAD_SCRIPT = `s=$1; n=$2; shift 2; i=0
mkdir -m 700 -- "$s" && tar -xmf - -C "$s" || { rm -rf -- "$s"; exit 1; }
spill() { cat -- "$s/$i"; }
fill() { mv -f -- "$s/$i" "$x"; }
${PLACE_FUNCTION}
for t do i=$((i+1)); place "$t"; done
rm -rf -- "$s"`;

/**
 * Streams the readable files among `$2...` to stdout as one tar (symlinks followed), after printing
 * one status line per argument to stderr. `$1` is the largest file to send in bytes (`-`: no
 * limit): a regular file larger than that is not sent, its status is `too_large SIZE`. tar's own
 * messages are discarded so that stderr carries only the statuses.
 */
export const DOWNLOAD_SCRIPT = `m=$1; shift
for p do
  shift
  if [ -d "$p" ]; then echo is_directory >&2
  elif [ ! -e "$p" ]; then echo file_not_found >&2
  elif [ ! -r "$p" ]; then echo permission_denied >&2
  elif [ "$m" != - ] && [ -f "$p" ] && z=$(stat -L -c %s -- "$p") && [ "$z" -gt "$m" ]; then echo "too_large $z" >&2
  else echo ok >&2; set -- "$@" ".$p"
  fi
done
[ $# -eq 0 ] || exec tar -chf - -C / "$@" 2>/dev/null`;

/**
 * Kills the processes of one execute (or channel): every process whose environment holds
 * \`DEEPFS_EXEC_ID=$1\`, whatever its process group, and every process of the sessions they are
 * in. Docker starts each exec as a session of its own, so a descendant that dropped the variable
 * (\`env -i\`) is still found by its session while a marked process of that session lives (the
 * command's own shell, until it ends); the container's first session (1) and this script's own are
 * never touched. A process that both drops the variable and starts a session of its own
 * (\`setsid\`), or outlives every marked process of its session, is not found. Stops them first so
 * none can fork away, and rescans until none is left.
 */
export const KILL_SCRIPT = `m="DEEPFS_EXEC_ID=$1"
sid() { read -r s 2>/dev/null < "/proc/$1/stat" || return 1; s=\${s##*) }; set -- $s; echo "$4"; }
me=$(sid $$)
for round in 1 2 3 4 5; do
  pids=; sids=; all=
  for e in /proc/[0-9]*/environ; do
    p=\${e#/proc/}; p=\${p%/environ}
    [ "$p" = "$$" ] && continue
    read -r s 2>/dev/null < "/proc/$p/stat" || continue
    s=\${s##*) }; set -- $s; s=$4
    [ "$s" = "$me" ] && continue
    all="$all $p:$s"
    if tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qxF -- "$m"; then
      pids="$pids $p"
      case " $sids 1 " in *" $s "*) ;; *) sids="$sids $s" ;; esac
    fi
  done
  for e in $all; do
    case " $sids " in *" \${e#*:} "*) pids="$pids \${e%:*}" ;; esac
  done
  [ -z "$pids" ] && exit 0
  kill -STOP $pids 2>/dev/null; kill -KILL $pids 2>/dev/null
done`;

/** Prints the sandbox user's uid and gid, and `w` when `$1` (the workdir) is a writable directory. */
export const IDENTITY_SCRIPT = `printf '%s %s' "$(id -u)" "$(id -g)"; if [ -d "$1" ] && [ -w "$1" ]; then printf ' w'; fi`;

/** Keeps the container alive doing nothing; exits on TERM. Works with any POSIX sh. */
export const KEEPALIVE_SCRIPT = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`;

/** Exit status of the channel's `deepfs_download` when the files are too large for it. */
const DOWNLOAD_TOO_LARGE = 99;

/**
 * The shell of a channel (channel.ts), as the sandbox user: reads requests on stdin and answers
 * each on stdout, one at a time. A request is a line `<id> <input bytes> <command>`, the input,
 * then a line `<id>` (a request cut short is never run). The command runs in a subshell with the
 * input on stdin; the answer is a line `<id> <status> <stdout bytes> <stderr bytes>`, then stdout
 * and stderr. Input and output are staged in a private (0700) directory named after the shell's
 * pid and emptied after each answer; those of dead channels (killed mid-request) are removed when
 * the next one starts. The sizes come from `stat` (busybox `wc -c` would read a huge sparse file
 * through). The directory stays the sandbox user's: the shell must run as that user, and any
 * process of that user can change its files (or the shell itself), so the host bounds what it
 * takes from the channel instead (channel.ts). `dd iflag=count_bytes,fullblock` (busybox and GNU)
 * reads exactly the given bytes from the pipe, which busybox `head -c` does not. Prints `ready`
 * first, or `unsupported` and exits when the image cannot do this.
 *
 * Commands may call three functions; the first two do the work of {@link UPLOAD_SCRIPT} and
 * {@link DOWNLOAD_SCRIPT} with fewer processes, the input being a file already:
 * - `deepfs_upload NONCE SIZE PATH [SIZE PATH...]`: the input is the files' bytes one after
 *   another; prints one status line per file like UPLOAD_SCRIPT. A new file gets the user's umask.
 * - `deepfs_download MAX FILEMAX PATH...`: prints one status line per path to stderr like
 *   DOWNLOAD_SCRIPT (`too_large SIZE` for a file over FILEMAX bytes, which is not sent; `-`: no
 *   limit), then the size of each file it sends, one a line, and writes their bytes one after
 *   another to stdout. Exits {@link DOWNLOAD_TOO_LARGE} (after the statuses) when they hold more
 *   than MAX bytes in all, so that large files are streamed through an exec instead of staged
 *   here, and 1 when a readable path is not a regular file (a FIFO would block `cat`;
 *   DOWNLOAD_SCRIPT's tar skips it).
 * - `deepfs_run MAX`: runs the input as a script (stdin closed, stderr into stdout), writes at most
 *   MAX bytes of its output (the script dies of SIGPIPE past that) and its exit status to stderr.
 */
export const CHANNEL_SCRIPT = `for x in /tmp/.deepfs-ch-*; do
  p=\${x##*-}
  case $p in ''|*[!0-9]*) continue ;; esac
  if [ "$p" = "$$" ] || ! kill -0 "$p" 2>/dev/null; then rm -rf -- "$x" 2>/dev/null; fi
done
d=/tmp/.deepfs-ch-$$
take() { dd bs=65536 count="$1" iflag=count_bytes,fullblock 2>/dev/null; }
part() { dd if="$d/i" bs=65536 skip="$1" count="$2" iflag=skip_bytes,count_bytes,fullblock 2>/dev/null; }
spill() { part "$o" "$z"; }
fill() { part "$o" "$z" > "$x"; }
${PLACE_FUNCTION}
deepfs_upload() {
  n=$1; shift; o=0; i=0
  while [ $# -gt 1 ]; do
    z=$1; i=$((i+1)); place "$2"; shift 2; o=$((o+z))
  done
}
deepfs_run() {
  { (. "$d/i") </dev/null 2>&1; echo $? >&2; } | head -c "$1"
}
deepfs_download() {
  m=$1; f=$2; shift 2; w=
  for p do
    shift
    if [ -d "$p" ]; then w="$w is_directory"
    elif [ ! -e "$p" ]; then w="$w file_not_found"
    elif [ ! -r "$p" ]; then w="$w permission_denied"
    elif [ -f "$p" ]; then w="$w r"; set -- "$@" "$p"
    else return 1
    fi
  done
  s=; [ $# -eq 0 ] || s=$(stat -L -c %s -- "$@") || return 1
  t=0; l=
  for x in $w; do
    if [ "$x" != r ]; then echo "$x" >&2; continue; fi
    z=\${s%%[!0-9]*}; s=\${s#"$z"}; s=\${s#?}; p=$1; shift
    if [ "$f" != - ] && [ "$z" -gt "$f" ]; then echo "too_large $z" >&2; continue; fi
    echo ok >&2; set -- "$@" "$p"; t=$((t+z)); l="$l $z"
  done
  [ $# -eq 0 ] && return 0
  [ "$t" -le "$m" ] || return ${DOWNLOAD_TOO_LARGE}
  printf '%s\\n' $l >&2
  exec cat -- "$@"
}
if ! mkdir -m 700 -- "$d" 2>/dev/null || ! printf abc > "$d/i" ||
  [ "$(printf abc | take 2)" != ab ] || [ "$(part 1 1)" != b ] || [ "$(stat -c %s -- "$d/i")" != 3 ]; then
  echo unsupported; exit 0
fi
: > "$d/i"
echo ready
while read -r n b c; do
  if [ "$b" -gt 0 ]; then take "$b" > "$d/i" || break; fi
  read -r e && [ "$e" = "$n" ] || break
  (eval "$c") < "$d/i" > "$d/o" 2> "$d/e"
  r=$?
  set -- $(stat -c %s -- "$d/o" "$d/e")
  printf '%s %s %s %s\\n' "$n" "$r" "$1" "$2"
  if [ -s "$d/o" ] || [ -s "$d/e" ]; then cat -- "$d/o" "$d/e"; fi
  : > "$d/i"; : > "$d/o"; : > "$d/e"
done
rm -rf -- "$d"`;
