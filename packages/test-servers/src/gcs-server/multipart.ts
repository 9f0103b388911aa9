import { invalid } from './gcs-errors.js';

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Splits a `multipart/related` body (what a JSON-API multipart upload sends: the
 * object's JSON metadata, then its bytes) into parts. Each part is
 * `--boundary CRLF headers CRLF CRLF body CRLF`, and the last boundary ends in `--`.
 */
export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw invalid('Multipart upload without a boundary in Content-Type');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let position = body.indexOf(delimiter);
  if (position < 0) throw invalid('Malformed multipart body: no boundary');
  for (;;) {
    position += delimiter.length;
    if (body.subarray(position, position + 2).toString() === '--') break; // the closing delimiter
    if (body.subarray(position, position + 2).toString() === '\r\n') position += 2;
    const headersEnd = body.indexOf('\r\n\r\n', position);
    if (headersEnd < 0) throw invalid('Malformed multipart body: a part without headers');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(position, headersEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4);
    if (next < 0) throw invalid('Malformed multipart body: a part is not closed');
    parts.push({ headers, body: body.subarray(headersEnd + 4, next) });
    position = next + 2;
  }
  return parts;
}
