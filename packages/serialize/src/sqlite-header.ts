import { serializeError } from './errors.js';

/**
 * The parts of SQLite's 100-byte database header (https://www.sqlite.org/fileformat.html#the_database_header)
 * needed to tell whether a byte stream is a whole SQLite database file.
 */

export const HEADER_SIZE = 100;
/** "SQLite format 3\0" */
const MAGIC = new TextEncoder().encode('SQLite format 3\0');

export interface DatabaseHeader {
  pageSize: number;
  /**
   * The page count stored in the header at offset 28, when SQLite would trust it: it is
   * non-zero and the change counter (offset 24) equals the version-valid-for number
   * (offset 92). Older writers that did not maintain it leave them different, and SQLite
   * then uses the file size instead, so we do too.
   */
  headerPageCount: number | undefined;
  /** The file is in WAL mode (file format write and read versions 2, at offsets 18 and 19). */
  wal: boolean;
}

/**
 * Sets the header's file format versions (offsets 18 and 19) to 1, rollback-journal
 * mode, as `PRAGMA journal_mode = DELETE` would: a WAL-mode database cannot open on a
 * store (there is no shared memory for its index), and the rest of the file is the
 * same in both modes. `block` holds the file's first bytes.
 */
export function setRollbackMode(block: Uint8Array): void {
  if (block.length < 20) return;
  block[18] = 1;
  block[19] = 1;
}

/** Decodes the header, or throws 'invalid' saying why `what` is not an SQLite database. */
export function parseHeader(header: Uint8Array, what: string, store?: string): DatabaseHeader {
  const startsWithMagic = header.length >= MAGIC.length && MAGIC.every((byte, i) => header[i] === byte);
  if (!startsWithMagic || header.length < HEADER_SIZE) {
    const why =
      header.length === 0
        ? 'it is empty'
        : startsWithMagic || (header.length < MAGIC.length && header.every((byte, i) => byte === MAGIC[i]))
          ? `it is only ${header.length} bytes long, shorter than the ${HEADER_SIZE}-byte header`
          : 'it does not start with "SQLite format 3\\0"';
    throw serializeError('invalid', `${what} is not an SQLite database: ${why}`, store);
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const rawPageSize = view.getUint16(16);
  // The 16-bit field cannot hold 65536, so the file format stores it as 1.
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw serializeError(
      'invalid',
      `${what} is not a valid SQLite database: page size ${rawPageSize} in its header is not a power of two from 512 to 65536`,
      store,
    );
  }
  const changeCounter = view.getUint32(24);
  const pageCount = view.getUint32(28);
  const versionValidFor = view.getUint32(92);
  return { pageSize, headerPageCount: pageCount !== 0 && changeCounter === versionValidFor ? pageCount : undefined, wal: header[18] === 2 || header[19] === 2 };
}

/**
 * Checks that a file of `size` bytes with this header is whole: a whole number of pages,
 * and at least as many as the header says it has (fewer means it was cut short).
 * Returns the number of pages.
 */
export function checkWholeFile(header: DatabaseHeader, size: number, what: string, store?: string): number {
  const { pageSize, headerPageCount } = header;
  if (size % pageSize !== 0) {
    throw serializeError(
      'invalid',
      `${what} is ${size} bytes long, not a whole number of ${pageSize}-byte pages: it is truncated or not an SQLite database`,
      store,
    );
  }
  const pages = size / pageSize;
  if (headerPageCount !== undefined && pages < headerPageCount) {
    throw serializeError('invalid', `${what} is truncated: its header says ${headerPageCount} pages of ${pageSize} bytes, but it holds only ${pages}`, store);
  }
  return pages;
}
