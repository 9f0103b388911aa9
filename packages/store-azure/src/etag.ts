/**
 * Azure returns an ETag quoted in response headers (`"0x8DC…"`) and unquoted in list
 * results (`0x8DC…`). The store hands out one form, unquoted, so that an etag from
 * `put` equals the one `list` shows, and quotes it again when sending `If-Match`.
 */
export function normaliseEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const strong = etag.startsWith('W/') ? etag.slice(2) : etag;
  return strong.length >= 2 && strong.startsWith('"') && strong.endsWith('"') ? strong.slice(1, -1) : strong;
}

/** The `If-Match` value for an etag in either form. */
export function quoteEtag(etag: string): string {
  return `"${normaliseEtag(etag) ?? etag}"`;
}
