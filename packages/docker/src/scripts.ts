/**
 * POSIX sh programs run inside the container with `sh -c SCRIPT sh ARGS...`. They only use
 * utilities that busybox and GNU coreutils both provide, and take every path as an argument (never
 * spliced into the script), so names with spaces, quotes or newlines are safe.
 */

/**
 * Writes uploads as the sandbox user, so that the kernel enforces the user's permissions. stdin is
 * a tar of files named `1`, `2`, ... that is unpacked into the private staging dir `$1` (mode
 * 0700); `$2` is a nonce, then one target per staged file. Prints one status word per target, one
 * per line. An existing file is overwritten in place, like a shell redirection, so it keeps its
 * inode, mode, owner and birth time (`created_at`); a new file is renamed into place from a
 * temporary name next to it, so it appears whole or not at all.
 */
export const UPLOAD_SCRIPT = `s=$1; n=$2; shift 2; i=0
mkdir -m 700 -- "$s" && tar -xmf - -C "$s" || { rm -rf -- "$s"; exit 1; }
for t do
  i=$((i+1)); d=\${t%/*}; d=\${d:-/}
  if [ -d "$t" ]; then echo is_directory; continue; fi
  if [ -f "$t" ]; then
    if cat -- "$s/$i" 2>/dev/null > "$t"; then echo ok
    elif [ -w "$t" ]; then echo failed; else echo permission_denied; fi
    continue
  fi
  if ! mkdir -p -- "$d" 2>/dev/null; then
    p=$d
    while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=\${p%/*}; p=\${p:-/}; done
    if [ -d "$p" ]; then echo permission_denied; else echo not_a_directory; fi
    continue
  fi
  x="$d/.deepfs-$n-$i"
  if mv -f -- "$s/$i" "$x" 2>/dev/null && mv -fT -- "$x" "$t" 2>/dev/null; then echo ok; continue; fi
  rm -f -- "$x"
  if [ -w "$d" ]; then echo failed; else echo permission_denied; fi
done
rm -rf -- "$s"`;

/**
 * Streams the readable files among `$@` to stdout as one tar (symlinks followed), after printing
 * one status word per argument, one per line, to stderr. tar's own messages are discarded so that
 * stderr carries only the statuses.
 */
export const DOWNLOAD_SCRIPT = `for p do
  shift
  if [ -d "$p" ]; then echo is_directory >&2
  elif [ ! -e "$p" ]; then echo file_not_found >&2
  elif [ ! -r "$p" ]; then echo permission_denied >&2
  else echo ok >&2; set -- "$@" ".$p"
  fi
done
[ $# -eq 0 ] || exec tar -chf - -C / "$@" 2>/dev/null`;

/**
 * Kills every process whose environment holds \`DEEPFS_EXEC_ID=$1\`: the command of one execute and
 * all its descendants, whatever their process group. Stops them first so none can fork away, and
 * rescans until none is left.
 */
export const KILL_SCRIPT = `m="DEEPFS_EXEC_ID=$1"
for round in 1 2 3 4 5; do
  pids=
  for e in /proc/[0-9]*/environ; do
    p=\${e#/proc/}; p=\${p%/environ}
    [ "$p" = "$$" ] && continue
    if tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qxF -- "$m"; then pids="$pids $p"; fi
  done
  [ -z "$pids" ] && exit 0
  kill -STOP $pids 2>/dev/null; kill -KILL $pids 2>/dev/null
done`;

/** Prints the sandbox user's uid and gid, and `w` when `$1` (the workdir) is a writable directory. */
export const IDENTITY_SCRIPT = `printf '%s %s' "$(id -u)" "$(id -g)"; if [ -d "$1" ] && [ -w "$1" ]; then printf ' w'; fi`;

/** Keeps the container alive doing nothing; exits on TERM. Works with any POSIX sh. */
export const KEEPALIVE_SCRIPT = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`;
