import { isSqliteHeader } from './change-counter.js';

/**
 * Which blocks of an SQLite file hold B-tree interior pages. Every lookup in a table or
 * an index passes through them, from the root down to a leaf, so they are the blocks a
 * cold connection reads first: a segmented checkpoint keeps their map entries in its
 * root (docs/atomic-format.md §5), and such a lookup then waits for no segment but its
 * leaf's. Read from the bytes: each page's first byte (after the 100-byte file header on
 * page 1) is its kind, 2 and 5 being index and table interior pages. A page of another
 * kind (an overflow or freelist page, whose first byte is the top byte of a page number)
 * may look like one now and then: the answer is a hint, never a fact anything depends on.
 */

/** The file header's bytes, before page 1's own header. */
const HEADER_BYTES = 100;
const INTERIOR_INDEX = 2;
const INTERIOR_TABLE = 5;

/** The page size in `header` (a file's first bytes), or undefined when they are no SQLite header. */
export function sqlitePageSize(header: Uint8Array): number | undefined {
  if (!isSqliteHeader(header)) return undefined;
  const stored = ((header[16] as number) << 8) | (header[17] as number);
  const size = stored === 1 ? 65536 : stored;
  // A power of two from 512 to 65536, or it is no page size SQLite writes.
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0 ? size : undefined;
}

/**
 * Whether block `index` (`bytes`, of a file cut into `blockSize`-byte blocks with
 * `pageSize`-byte pages) holds the start of a B-tree interior page; undefined when no
 * page starts in it (a block smaller than a page, inside one): it tells nothing then.
 */
export function holdsInteriorPage(bytes: Uint8Array, index: number, blockSize: number, pageSize: number): boolean | undefined {
  const start = index * blockSize;
  let page = Math.ceil(start / pageSize);
  let seen = false;
  for (; page * pageSize < start + bytes.length; page++) {
    const at = page * pageSize + (page === 0 ? HEADER_BYTES : 0) - start;
    if (at >= bytes.length) break;
    seen = true;
    const kind = bytes[at];
    if (kind === INTERIOR_INDEX || kind === INTERIOR_TABLE) return true;
  }
  return seen ? false : undefined;
}
