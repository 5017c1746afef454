/**
 * A URL's user name and password as its author wrote them. WHATWG URL parsing ends the
 * host part at the first `/`, `?` or `#`, so a password holding one of them unencoded
 * (`redis://:p@ss/w0rd@host`) is read as host and path: what the author meant as a
 * secret would be printed as a host name. The last `@` is where they meant it to end.
 */
export function unencodedCredentials(url: string): string | null {
  const start = url.indexOf('://');
  if (start === -1) return null;
  const rest = url.slice(start + 3);
  const at = rest.lastIndexOf('@');
  if (at === -1) return null;
  const credentials = rest.slice(0, at);
  return /[/?#]/.test(credentials) ? credentials : null;
}

/** `url` without the credentials `unencodedCredentials` found; the URL itself otherwise. */
export function withoutUnencodedCredentials(url: string): string {
  const credentials = unencodedCredentials(url);
  if (credentials === null) return url;
  const start = url.indexOf('://') + 3;
  return `${url.slice(0, start)}${url.slice(start + credentials.length + 1)}`;
}
