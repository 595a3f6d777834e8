/**
 * Makes a sandbox refuse every later call and `start()` with `backend_unavailable` and the given
 * reason, after removing its container. Used by {@link SessionManager} so that a sandbox handed out
 * for an expired or evicted session cannot silently start an unmanaged container. Not exported
 * from the package.
 */
export const retireSandbox: unique symbol = Symbol("deepfs.docker.retire");
