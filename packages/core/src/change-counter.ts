/**
 * SQLite's change counter (database header offset 24). A connection keeps its page cache
 * while the counter it reads at the start of a transaction is the one it last saw, so
 * whoever replaces a database's pages other than through SQLite (a restore, an import
 * over an existing database) must move the counter past every value connections may
 * have seen: else one of them keeps pages of the replaced database, reads them, and a
 * write of its puts them back over the new one.
 */

import type { PagedFile } from './paged-file.js';

/** "SQLite format 3\0" */
const SQLITE_MAGIC = new TextEncoder().encode('SQLite format 3\0');
const HEADER_BYTES = 100;

/** Whether `header` (a file's first bytes) is a whole SQLite header: 100 bytes, starting with the magic string. */
export function isSqliteHeader(header: Uint8Array): boolean {
  return header.length >= HEADER_BYTES && SQLITE_MAGIC.every((byte, i) => header[i] === byte);
}

/** The change counter in `header` (a file's first bytes), or undefined when they are not a whole SQLite header. */
export function changeCounterOf(header: Uint8Array): number | undefined {
  if (!isSqliteHeader(header)) return undefined;
  return view(header).getUint32(24);
}

/**
 * Sets the change counter in `header` (a file's first bytes, changed in place) to one past
 * `past` and past its own value. The version-valid-for number (offset 92) follows it when
 * it matched the counter, as SQLite keeps them; when it did not (a file from a writer that
 * predates it), the header's page count is not to be trusted, and the counter is kept
 * different from it so that it stays so. Not a SQLite header: left as it is.
 */
export function setChangeCounterPast(header: Uint8Array, past: number): void {
  const own = changeCounterOf(header);
  if (own === undefined) return;
  const bytes = view(header);
  const versionValidFor = bytes.getUint32(92);
  let counter = (Math.max(past, own) + 1) >>> 0;
  if (own === versionValidFor) bytes.setUint32(92, counter);
  else if (counter === versionValidFor) counter = (counter + 1) >>> 0;
  bytes.setUint32(24, counter);
}

/** The first bytes of `file` that hold SQLite's header (fewer when the file is shorter). */
export async function headerOf(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(Math.min(HEADER_BYTES, file.size));
  await file.read(bytes, 0);
  return bytes;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
