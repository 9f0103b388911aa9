/** A satisfiable byte range, end inclusive as in HTTP. */
export interface ByteSpan {
  start: number;
  end: number;
}

/**
 * Reads a `Range: bytes=…` header against an object of `size` bytes: `a-b`, `a-` or the
 * suffix form `-n`. Returns undefined for no header (or one this server does not
 * understand, which HTTP says to ignore), 'unsatisfiable' when the range starts at or
 * past the end (every range of an empty object does), otherwise the span clipped to
 * the object.
 */
export function parseRange(header: string | undefined, size: number): ByteSpan | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return undefined; // invalid: ignored, the whole object is sent
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
