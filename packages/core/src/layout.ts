import { AtomicFormat } from './atomic/atomic-format.js';
import type { BlockStore } from './block-store.js';
import { DirectFormat } from './direct-format.js';
import { BlockVfsError } from './errors.js';
import { PagedFile, type PagedFileOptions } from './paged-file.js';

/**
 * The on-store layouts. `direct` is sqlite-s3vfs's (one object per block, rewritten
 * in place, journal on the store). The atomic layout will join this list; each
 * layout is a FileFormat behind the same PagedFile.
 */
export type Layout = 'direct';
export const LAYOUTS: readonly Layout[] = ['direct'];
export const DEFAULT_BLOCK_SIZE = 4096;
/**
 * The layouts `openPagedFile` opens. `atomic` is not (yet) in `Layout`/`LAYOUTS`, which
 * the VFS and serialize accept: they do not know how to drive it until the VFS keeps
 * the journal in memory and maps commit conflicts to SQLITE_BUSY.
 */
export type FileLayout = Layout | 'atomic';

export interface OpenPagedFileOptions extends PagedFileOptions {
  layout?: FileLayout;
  /** Block size for a new file (default 4096); an existing file keeps its own. */
  blockSize?: number;
  /** Skip listing the store: the caller knows the size (single-writer use only). */
  knownSize?: number;
  /** Atomic layout only: allow a store without conditional puts, the caller guaranteeing a single writer. */
  singleWriter?: boolean;
}

export function checkLayout(layout: string): Layout {
  if ((LAYOUTS as readonly string[]).includes(layout)) return layout as Layout;
  throw new BlockVfsError('invalid', `unknown layout "${layout}"; known layouts: ${LAYOUTS.join(', ')}`, { source: '@blockvfs/core' });
}

/** Opens (or starts) file `name` on `store` as a PagedFile. */
export async function openPagedFile(store: BlockStore, name: string, options: OpenPagedFileOptions = {}): Promise<PagedFile> {
  if (options.layout === 'atomic') {
    // The atomic layout reads its own state (head, checkpoint, later commits): `knownSize` does not apply.
    const format = await AtomicFormat.open(store, name, {
      blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
      ...(options.singleWriter === undefined ? {} : { singleWriter: options.singleWriter }),
    });
    return new PagedFile(format, options);
  }
  checkLayout(options.layout ?? 'direct');
  const format = await DirectFormat.open(store, name, {
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
    ...(options.knownSize === undefined ? {} : { knownSize: options.knownSize }),
  });
  return new PagedFile(format, options);
}
