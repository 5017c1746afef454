/**
 * A URL's user name and password as its author wrote them, when URL parsing cannot read
 * them so. It ends the host part at the first `/`, `?` or `#`: a password holding one of
 * them unencoded (`redis://:p@ss/w0rd@host`) is read as host and path, or the URL does not
 * parse at all, and what the author meant as a secret would be printed as a host name. An
 * `@` of the author's own needs no encoding (the last one ends the credentials), and one
 * in the query is the query's.
 */
export function unencodedCredentials(url: string): string | null {
  const start = url.indexOf('://');
  if (start === -1) return null;
  let parsed: URL | null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  // Read as meant, unless an `@` was left in the path or fragment.
  if (parsed && !parsed.pathname.includes('@') && !parsed.hash.includes('@')) return null;
  const query = parsed?.search ? url.lastIndexOf(parsed.search) : -1;
  const head = query === -1 ? url : url.slice(0, query);
  const at = head.lastIndexOf('@');
  return at > start ? head.slice(start + 3, at) : null;
}

/** `url` without the credentials `unencodedCredentials` found; the URL itself otherwise. */
export function withoutUnencodedCredentials(url: string): string {
  const credentials = unencodedCredentials(url);
  if (credentials === null) return url;
  const start = url.indexOf('://') + 3;
  return `${url.slice(0, start)}${url.slice(start + credentials.length + 1)}`;
}
