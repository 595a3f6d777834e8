/** Query parameters whose values are secrets wherever they appear. */
const SECRET_PARAM = /^(password|passwd|pass|secret|token|sslpassword|access[-_]?key|secret[-_]?access[-_]?key)$/i;

/**
 * The URL with every secret replaced by `***`: the password of `user:password@`, and the values of
 * query parameters such as `password`, `token` or `secret`. Works on strings that are not valid
 * URLs too (it never throws), so error messages can always show what was given.
 */
export function maskUrl(input: string): string {
  const text = String(input);
  // user:password@ in the authority. The password ends at the last @ of the text: one typed
  // without percent-encoding may hold `/`, `?`, `#` or `@` (more is masked when a query holds an
  // @ too: a message shows less, never the password).
  let masked = text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):.*@/is, "$1:***@");
  const query = masked.indexOf("?");
  if (query !== -1) {
    const head = masked.slice(0, query + 1);
    const hash = masked.indexOf("#", query);
    const end = hash === -1 ? masked.length : hash;
    const params = masked
      .slice(query + 1, end)
      .split("&")
      .map((pair) => {
        const eq = pair.indexOf("=");
        if (eq === -1) return pair;
        let name = pair.slice(0, eq);
        try {
          name = decodeURIComponent(name);
        } catch {}
        return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=***` : pair;
      });
    masked = `${head}${params.join("&")}${masked.slice(end)}`;
  }
  return masked;
}

/** The secrets in a URL (its password and secret parameters), to scrub from text that might echo them. */
export function secretsOf(input: string): string[] {
  const secrets: string[] = [];
  // The password runs from the user's `:` to one of the @ that follow (see maskUrl): each is a
  // candidate, so an unencoded `/`, `?`, `#` or `@` in it cannot cut it short.
  const user = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:/i.exec(input);
  if (user) {
    const rest = input.slice(user[0].length);
    for (let at = rest.indexOf("@"), n = 0; at !== -1 && n < 16; at = rest.indexOf("@", at + 1), n++) {
      const candidate = rest.slice(0, at);
      secrets.push(candidate);
      try {
        secrets.push(decodeURIComponent(candidate));
      } catch {}
    }
  }
  const query = input.indexOf("?");
  if (query !== -1) {
    for (const pair of input.slice(query + 1).split(/[&#]/)) {
      const eq = pair.indexOf("=");
      if (eq > 0 && SECRET_PARAM.test(pair.slice(0, eq)) && pair.length > eq + 1) {
        const value = pair.slice(eq + 1);
        secrets.push(value);
        try {
          secrets.push(decodeURIComponent(value));
        } catch {}
      }
    }
  }
  return [...new Set(secrets)].filter((secret) => secret.length > 0);
}

/** `text` with every one of `secrets` replaced by `***`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join("***");
  return out;
}
