import { AtomicFormat, PagedFile, checkLayout } from '@blockvfs/core/format';
import { DEFAULT_LAYOUT, isBlockVfsError, isWrongLayoutError, type BlockStore, type Clock, type Layout } from '@blockvfs/core';
import { serializeError } from './errors.js';
import { checkWholeFile, HEADER_SIZE, parseHeader } from './sqlite-header.js';
import { hasHotJournal, journalName, openStoredFile } from './stored-file.js';

export interface SerializeOptions {
  store: BlockStore;
  /** The database's name on the store (its file name, as given to openDatabase). */
  name: string;
  /** The layout to try first (default `atomic`): a database is read in the layout it was written in. */
  layout?: Layout;
  /** Atomic layout: export the database as it was after this commit number, or at this time. */
  asOf?: number | Date;
  /** Atomic layout: where time comes from (an `asOf` Date, the view's trust window); default the system clock; a deterministic test passes its own. */
  clock?: Clock;
  /** Called after each chunk is read from the store, before it is yielded: bytes so far, of `totalBytes`. */
  onProgress?: (progress: SerializeProgress) => void;
}

export interface SerializeProgress {
  /** Bytes of the database read from the store so far. */
  bytes: number;
  /** The database's size. */
  totalBytes: number;
}

/**
 * Blocks read ahead of the consumer, in parallel: a round trip per 32 blocks instead of
 * per 4 (bench step e), and still a bounded amount of memory (32 blocks).
 */
const READ_AHEAD = 32;

/**
 * The database `name` on `store` as a plain SQLite database file, in chunks of one
 * block each (the last one shorter when the file ends mid-block). Each chunk is a
 * fresh array the consumer may keep. The store is checked before the first chunk:
 * a missing database rejects with 'not-found', bytes that are not a whole SQLite
 * database with 'invalid', and a hot journal (a writer crashed mid-commit) with
 * 'invalid' too, since the blocks then hold a half-written transaction.
 *
 * In the atomic layout the stream is one commit (the latest when it starts, or `asOf`):
 * writers may go on committing meanwhile. In the direct layout it is not a snapshot: a
 * process writing the database meanwhile can leave the stream with pages from before
 * and after its commit.
 */
export async function* serialize(options: SerializeOptions): AsyncGenerator<Uint8Array, void, undefined> {
  const { store, name, asOf } = options;
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  if (asOf !== undefined && layout !== 'atomic') throw serializeError('invalid', `asOf needs the atomic layout, not "${layout}"`, store.name);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw serializeError('invalid', 'onProgress must be a function', store.name);
  const file = await openInStoredLayout(store, name, layout, asOf, options.clock);
  let bytes = 0;
  for await (const chunk of readBlocks(file)) {
    bytes += chunk.length;
    options.onProgress?.({ bytes, totalBytes: file.size });
    yield chunk;
  }
}

/** The database in the layout it was written in: `layout` is tried first, the other when nothing is there. */
async function openInStoredLayout(
  store: BlockStore,
  name: string,
  layout: Layout,
  asOf: number | Date | undefined,
  clock: Clock | undefined,
): Promise<PagedFile> {
  if (layout === 'atomic') {
    try {
      return await openAtomicFile(store, name, asOf, clock);
    } catch (error) {
      if (isWrongLayoutError(error) && asOf === undefined) return openDirectFile(store, name);
      throw error;
    }
  }
  try {
    return await openDirectFile(store, name);
  } catch (error) {
    if (!isBlockVfsError(error, 'not-found')) throw error;
    return openAtomicFile(store, name, undefined, clock);
  }
}

/** One commit of an atomic-layout database: its blocks never change, so reading them later reads that commit. */
async function openAtomicFile(store: BlockStore, name: string, asOf: number | Date | undefined, clock: Clock | undefined): Promise<PagedFile> {
  const what = `database "${name}"`;
  // Read-only: no commit is made, so a store without conditional puts is fine here.
  const format = await AtomicFormat.open(store, name, {
    blockSize: 4096,
    singleWriter: true,
    cacheBytes: 0,
    ...(asOf === undefined ? {} : { asOf }),
    ...(clock === undefined ? {} : { clock }),
  });
  if (format.seq === 0) throw serializeError('not-found', `there is no ${what} on this store`, store.name);
  const file = new PagedFile(format);
  const header = new Uint8Array(Math.min(HEADER_SIZE, file.size));
  await file.read(header, 0);
  checkWholeFile(parseHeader(header, `the stored ${what}`, store.name), file.size, `the stored ${what}`, store.name);
  return file;
}

async function openDirectFile(store: BlockStore, name: string): Promise<PagedFile> {
  const what = `database "${name}"`;
  const stored = await openStoredFile(store, name, 'direct');
  if (!stored) throw serializeError('not-found', `there is no ${what} on this store`, store.name);
  if (await hasHotJournal(store, name)) {
    throw serializeError(
      'invalid',
      `${what} has a hot journal ("${journalName(name)}"): the last writer stopped in the middle of a commit, so the stored ` +
        `pages may hold half of a transaction. Open the database once (with openDatabase; that rolls the transaction back) and export it again.`,
      store.name,
    );
  }
  const { file, firstBlock } = stored;
  let header = firstBlock.subarray(0, HEADER_SIZE);
  if (header.length < HEADER_SIZE && file.size > header.length) {
    header = new Uint8Array(Math.min(HEADER_SIZE, file.size)); // blocks smaller than the header
    await file.read(header, 0);
  }
  checkWholeFile(parseHeader(header, `the stored ${what}`, store.name), file.size, `the stored ${what}`, store.name);
  return file;
}

/**
 * Yields the file block by block, keeping up to READ_AHEAD reads in flight. Reads may
 * run side by side: a PagedFile opened for reading has no buffered changes, so its
 * reads only fetch blocks and change nothing.
 */
async function* readBlocks(file: PagedFile): AsyncGenerator<Uint8Array, void, undefined> {
  const { size, blockSize } = file;
  const pending: Promise<Uint8Array>[] = [];
  let next = 0; // offset of the next block to request
  const request = (): void => {
    const chunk = new Uint8Array(Math.min(blockSize, size - next));
    const offset = next;
    const read = file.read(chunk, offset).then(() => chunk);
    // Handled at once: a read ahead that fails while the consumer still waits for an earlier block is no
    // unhandled rejection (which ends a Node process); the consumer gets its error when it comes to it.
    read.catch(() => undefined);
    pending.push(read);
    next += chunk.length;
  };
  try {
    while (next < size || pending.length > 0) {
      while (next < size && pending.length < READ_AHEAD) request();
      const chunk = pending.shift();
      if (chunk) yield await chunk;
    }
  } finally {
    // The consumer stopped early or a read failed: nothing of the file is read after the generator ends.
    await Promise.allSettled(pending);
  }
}
