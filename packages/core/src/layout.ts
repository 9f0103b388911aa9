import { AtomicFormat, type AtomicFormatOptions } from './atomic/atomic-format.js';
import type { BlockStore } from './block-store.js';
import { DirectFormat } from './direct-format.js';
import { BlockVfsError } from './errors.js';
import { PagedFile, type PagedFileOptions } from './paged-file.js';

/**
 * The on-store layouts, each a FileFormat behind the same PagedFile:
 *
 * - `atomic` (the default): immutable blocks and one create-if-absent commit record per
 *   commit; all-or-nothing commits, consistent snapshots, safe concurrent writers;
 * - `direct`: sqlite-s3vfs's (one object per block, rewritten in place, the rollback
 *   journal on the store), for interoperability; one writer at a time, kept apart by the caller.
 */
export type Layout = 'atomic' | 'direct';
export const LAYOUTS: readonly Layout[] = ['atomic', 'direct'];
export const DEFAULT_LAYOUT: Layout = 'atomic';
/**
 * Block size of a new file in the atomic layout when none is given: 64 KiB (16 pages of
 * 4 KiB), chosen by measurement (bench/RESULTS.md, "Block size"): at 20 ms per request,
 * importing, exporting and scanning 50 MB take about a tenth of the time they take at
 * 4 KiB (16 times fewer requests), a cold point query as many round trips, and a commit
 * of one or two blocks still travels inside its record (one PUT: 128 KiB inline limit);
 * the price is bytes, 128 KiB written for such a commit instead of 8 KiB.
 */
export const DEFAULT_BLOCK_SIZE = 64 * 1024;
/**
 * Block size of a new file in the direct layout when none is given: SQLite's default page
 * size. The direct layout is there to share databases with sqlite-s3vfs, whose block
 * size is 4096 unless told otherwise; openDatabase and deserialize take the page size.
 */
export const DEFAULT_DIRECT_BLOCK_SIZE = 4096;

/** The block size of a new file of `layout` when none is given: DEFAULT_BLOCK_SIZE (atomic), or the page size (direct; DEFAULT_DIRECT_BLOCK_SIZE when unknown). */
export function defaultBlockSize(layout: Layout, pageSize?: number): number {
  return layout === 'atomic' ? DEFAULT_BLOCK_SIZE : (pageSize ?? DEFAULT_DIRECT_BLOCK_SIZE);
}

/** Options of the atomic layout (see AtomicFormatOptions), all but the block size. */
export type AtomicOptions = Omit<AtomicFormatOptions, 'blockSize'>;

export interface OpenPagedFileOptions extends PagedFileOptions {
  /** Default `atomic`. */
  layout?: Layout;
  /** Block size for a new file (default `defaultBlockSize(layout)`: 64 KiB atomic, 4096 direct); an existing file keeps its own. */
  blockSize?: number;
  /** Direct layout only: skip listing the store, the caller knows the size (single-writer use only). */
  knownSize?: number;
  /** Direct layout only: see DirectFormatOptions.probeOthers (the atomic layout always asks, when it finds no database). */
  probeOthers?: boolean;
  /** Atomic layout only. */
  atomic?: AtomicOptions;
}

export function checkLayout(layout: string): Layout {
  if ((LAYOUTS as readonly string[]).includes(layout)) return layout as Layout;
  throw new BlockVfsError('invalid', `unknown layout "${layout}"; known layouts: ${LAYOUTS.join(', ')}`, { source: '@blockvfs/core' });
}

/** Opens (or starts) file `name` on `store` as a PagedFile. */
export async function openPagedFile(store: BlockStore, name: string, options: OpenPagedFileOptions = {}): Promise<PagedFile> {
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  const blockSize = options.blockSize ?? defaultBlockSize(layout);
  if (layout === 'atomic') {
    // The atomic layout reads its own state (head, checkpoint, later commits): `knownSize` does not apply.
    return new PagedFile(await AtomicFormat.open(store, name, { ...options.atomic, blockSize }), options);
  }
  const format = await DirectFormat.open(store, name, {
    blockSize,
    ...(options.knownSize === undefined ? {} : { knownSize: options.knownSize }),
    ...(options.probeOthers ? { probeOthers: true } : {}),
  });
  return new PagedFile(format, options);
}
