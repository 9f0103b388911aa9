import {
  AtomicFormat,
  blockCount,
  changeCounterOf,
  checkLayout,
  DirectFormat,
  directBlockKey,
  headerOf,
  openPagedFile,
  PagedFile,
  setChangeCounterPast,
  writersUseLease,
} from '@blockvfs/core/format';
import { blockSizeProblem, storeProblem } from '@blockvfs/core/store';
import {
  DEFAULT_LAYOUT,
  defaultBlockSize,
  hasAtomicDatabase,
  isBlockVfsError,
  isWrongLayoutError,
  type BlockStore,
  type Clock,
  type Layout,
} from '@blockvfs/core';
import { serializeError } from './errors.js';
import { spoolSource, type ChunkSource } from './spool-source.js';
import { checkWholeFile, setRollbackMode } from './sqlite-header.js';
import { deleteBlocksFrom, journalName } from './stored-file.js';
import { MemorySpool, type Spool } from './spool.js';

export interface DeserializeProgress {
  /** `reading`: the source is being read and checked; `writing`: blocks are going to the store. */
  phase: 'reading' | 'writing';
  /**
   * Bytes read from the source, or (writing) bytes of the database that the store has
   * confirmed, so far: `writing` reaches `totalBytes` only once the import is stored.
   */
  bytes: number;
  /** The database's size, once known (while writing). */
  totalBytes?: number;
}

export interface DeserializeOptions {
  store: BlockStore;
  /** The database's name on the store; an existing database of that name is replaced. */
  name: string;
  /** A plain SQLite database file, in chunks of any sizes. */
  source: ChunkSource;
  /**
   * Block size on the store for a new database; default 64 KiB in the atomic layout
   * (`DEFAULT_BLOCK_SIZE`), the database's page size in the direct layout (as
   * sqlite-s3vfs). In the atomic layout a database that exists under `name` keeps its own
   * block size (the import is one more commit of it).
   */
  blockSize?: number;
  /** For a new database (default `atomic`); a database already under `name` is replaced in the layout it was written in. */
  layout?: Layout;
  /** Atomic layout: accept a store without conditional puts, promising there is no other writer. */
  singleWriter?: boolean;
  /**
   * Where the source is held while it is checked: `'file'` (default), a temporary file,
   * so an import of any size needs little memory; `'memory'`, for a platform without a
   * file system, at the cost of the database's size in memory.
   */
  spool?: 'file' | 'memory';
  /** Atomic layout: where time comes from for the commit's time and the writer lease (default the system clock; a deterministic test passes its own). */
  clock?: Clock;
  onProgress?: (progress: DeserializeProgress) => void;
}

export interface DeserializeResult {
  bytes: number;
  pages: number;
  pageSize: number;
  /**
   * The source was in WAL mode and is stored in rollback-journal mode (its header's two
   * version bytes set to 1, as `PRAGMA journal_mode = DELETE` does), since a WAL-mode
   * database cannot open on a store. Only the main file is imported: commits still in
   * a `-wal` file beside the source are not (checkpoint it first).
   */
  convertedFromWal: boolean;
  /** Atomic layout: the commit that holds the import (undefined in the direct layout, which has no commits). */
  commit?: number;
}

/** Bytes read from the temp file and committed to the store per step: bounds memory, keeps uploads parallel. */
const WRITE_STEP = 8 * 1024 * 1024;

/**
 * Stores a plain SQLite database file as database `name` on `store`, replacing any
 * database there. The whole source is read into a temporary file and checked first
 * (header, page size, whole pages, not cut short), so bad input — or a source that
 * fails — leaves the store exactly as it was. Only then is the store written.
 *
 * In the atomic layout the import is one commit: connections see the old database or
 * the new one, never a mix, and a store failure leaves the old one. (Another writer
 * committing meanwhile makes it fail with `precondition-failed`: import again.)
 *
 * In the direct layout the write phase is not atomic: the old hot journal is deleted,
 * the new blocks written, the old file's extra blocks deleted, and a store failure in
 * between can leave pages of the old and the new database under `name`. The error then
 * says so; import again to repair it. When no database existed under `name`, the
 * partial one is deleted (best effort).
 */
export async function deserialize(options: DeserializeOptions): Promise<DeserializeResult> {
  const { store, name, source, onProgress } = options;
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  checkOptions(options);
  const what = `the database imported as "${name}"`;
  // The temp file's module only when it is used: it needs node:fs, which a browser lacks.
  const spool: Spool = options.spool === 'memory' ? new MemorySpool() : await (await import('./temp-spool.js')).TempSpool.create();
  try {
    const spooled = await spoolSource(source, spool, what, (bytes) => onProgress?.({ phase: 'reading', bytes }));
    const { pageSize } = spooled.header;
    const pages = checkWholeFile(spooled.header, spooled.bytes, what);
    const { wal } = spooled.header;
    const write = { blockSize: options.blockSize, onProgress, singleWriter: options.singleWriter ?? false, wal, clock: options.clock };
    // `layout` chooses for a new database; one already under `name` is replaced in its own layout.
    const direct = () => writeToStore(store, name, spool, spooled.bytes, { ...write, blockSize: options.blockSize ?? defaultBlockSize('direct', pageSize) });
    let commit: number | undefined;
    if (layout === 'direct' && !(await DirectFormat.exists(store, name)) && (await hasAtomicDatabase(store, name)))
      commit = await commitToStore(store, name, spool, spooled.bytes, write);
    else if (layout === 'direct') await direct();
    else {
      try {
        commit = await commitToStore(store, name, spool, spooled.bytes, write);
      } catch (error) {
        if (!isWrongLayoutError(error)) throw error;
        await direct();
      }
    }
    return { bytes: spooled.bytes, pages, pageSize, convertedFromWal: wal, ...(commit === undefined ? {} : { commit }) };
  } finally {
    await spool.remove();
  }
}

function checkOptions(options: DeserializeOptions): void {
  const { store, name, blockSize, onProgress } = options;
  if (typeof name !== 'string' || name.length === 0) {
    throw serializeError('invalid', `name must be a non-empty string, got ${JSON.stringify(name)}`, store?.name);
  }
  const problem = storeProblem(store) ?? (blockSize === undefined ? undefined : blockSizeProblem(blockSize));
  if (problem) throw serializeError('invalid', problem, (store as BlockStore | undefined)?.name);
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw serializeError('invalid', 'onProgress must be a function', store?.name);
  }
  if (options.spool !== undefined && options.spool !== 'file' && options.spool !== 'memory') {
    throw serializeError('invalid', `spool must be 'file' or 'memory', got ${JSON.stringify(options.spool)}`, store?.name);
  }
}

interface WriteOptions {
  blockSize: number;
  onProgress: ((progress: DeserializeProgress) => void) | undefined;
  /** Store the file in rollback-journal mode (see setRollbackMode). */
  wal: boolean;
}

interface CommitOptions {
  blockSize: number | undefined;
  singleWriter: boolean;
  onProgress: ((progress: DeserializeProgress) => void) | undefined;
  wal: boolean;
  clock: Clock | undefined;
}

/**
 * Reads the next piece of the file from the spool, its header set to rollback mode when
 * asked, and its change counter moved past `pastCounter`, the replaced database's (see
 * @blockvfs/core's change-counter.ts: else a connection that read the old database could
 * keep its pages, and write them back over the new one).
 */
async function readPiece(spool: Spool, data: Uint8Array, offset: number, wal: boolean, pastCounter: number | undefined): Promise<void> {
  await spool.read(data, offset);
  if (offset !== 0) return;
  if (wal) setRollbackMode(data);
  if (pastCounter !== undefined) setChangeCounterPast(data, pastCounter);
}

/**
 * Atomic layout: replaces file `name` with the `total` bytes in `spool` as one commit,
 * and returns that commit's number.
 * The blocks go up ahead of it as PagedFile's memory bound is reached (invisible until
 * the record names them), so memory stays bounded whatever the size.
 */
async function commitToStore(store: BlockStore, name: string, spool: Spool, total: number, options: CommitOptions): Promise<number> {
  const { onProgress } = options;
  // Blocks go up as PagedFile's memory bound fills and at the final sync: progress is what the store confirmed.
  const progress = writeProgress(total, onProgress);
  const reported = reportUploads(store, `${name}/blocks/`, progress.uploaded);
  const format = await AtomicFormat.open(reported, name, {
    blockSize: options.blockSize ?? defaultBlockSize('atomic'),
    singleWriter: options.singleWriter,
    // Not while another writer holds the writer lease, when writers use one: its holder trusts its view, and would read
    // on from the replaced database (see writersUseLease).
    lease: await writersUseLease(store, name),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  if (options.blockSize !== undefined && format.seq > 0 && options.blockSize !== format.blockSize) {
    throw serializeError(
      'invalid',
      `database "${name}" exists with block size ${format.blockSize}, and an import is one more commit of it, in that block size; leave blockSize out, or import under another name`,
      store.name,
    );
  }
  const file = new PagedFile(format);
  const { blockSize } = file;
  try {
    await format.beginWrite(); // the lease first: refused before anything is uploaded
    const pastCounter = changeCounterOf(await headerOf(file));
    const step = blockSize * Math.max(1, Math.floor(WRITE_STEP / blockSize)); // whole blocks, so none is read back
    for (let offset = 0; offset < total; offset += step) {
      const data = new Uint8Array(Math.min(step, total - offset));
      await readPiece(spool, data, offset, options.wal, pastCounter);
      await file.write(data, offset);
    }
    await file.truncate(total);
    await file.sync();
    progress.done(); // the commit record is stored: all of it is in
    return format.seq;
  } catch (error) {
    file.discard();
    const detail = error instanceof Error ? error.message : String(error);
    throw serializeError(
      isBlockVfsError(error) ? error.kind : 'permanent',
      `importing database "${name}" failed, and the database is as it was (unless the store failed only to confirm the final commit: then all of the import is in): ${detail}`,
      store.name,
      error,
    );
  } finally {
    await file.close().catch(() => undefined); // releases the lease (best effort: it expires anyway)
  }
}

/** Direct layout: replaces file `name` on the store with the `total` bytes held in `spool`. */
async function writeToStore(store: BlockStore, name: string, spool: Spool, total: number, options: WriteOptions): Promise<void> {
  const { blockSize, onProgress } = options;
  const existed = await DirectFormat.exists(store, name);
  let written = 0;
  try {
    // The journal first: SQLite would play a stale hot journal back onto the new
    // pages at the next open, corrupting them. So it goes before any new block is
    // written; a crash in between only loses the rollback of a database that is
    // being replaced anyway.
    // From its first object as it is (a failed import may have left blocks of two sizes, which DirectFormat refuses to open).
    const pastCounter = existed ? changeCounterOf((await store.get(directBlockKey(name, 0), { offset: 0, length: 100 })) ?? new Uint8Array(0)) : undefined;
    await DirectFormat.delete(store, journalName(name));
    // knownSize 0: the new file is written from scratch whatever was there; nothing is read.
    const progress = writeProgress(total, onProgress);
    const reported = reportUploads(store, `${name}/`, progress.uploaded);
    const file = await openPagedFile(reported, name, { layout: 'direct', blockSize, knownSize: 0 });
    const step = blockSize * Math.max(1, Math.floor(WRITE_STEP / blockSize)); // whole blocks, so none is read back
    for (let offset = 0; offset < total; offset += step) {
      const data = new Uint8Array(Math.min(step, total - offset));
      await readPiece(spool, data, offset, options.wal, pastCounter);
      await file.write(data, offset);
      await file.sync();
      written = offset + data.length;
    }
    await deleteBlocksFrom(store, name, blockCount(total, blockSize));
    progress.done();
  } catch (error) {
    if (!existed) await deleteBlocksFrom(store, name, 0).catch(() => undefined);
    const detail = error instanceof Error ? error.message : String(error);
    const state = existed
      ? `the stored file may now mix pages of the old and the new database (the direct layout writes blocks in place); import it again`
      : 'what was written has been deleted, as far as the store allowed';
    throw serializeError(
      isBlockVfsError(error) ? error.kind : 'permanent',
      `writing database "${name}" failed after ${written} of ${total} bytes: ${detail}; ${state}`,
      store.name,
      error,
    );
  }
}

/** The writing phase's progress: bytes the store confirmed, rising, reported once each; `done` reports the total. */
function writeProgress(total: number, onProgress: ((progress: DeserializeProgress) => void) | undefined) {
  let uploaded = 0;
  let reported = 0;
  const report = (bytes: number): void => {
    if (bytes <= reported) return;
    reported = bytes;
    onProgress?.({ phase: 'writing', bytes, totalBytes: total });
  };
  return {
    uploaded: (bytes: number): void => {
      uploaded += bytes;
      report(Math.min(uploaded, total));
    },
    done: (): void => report(total),
  };
}

/** `store`, telling `uploaded` the size of every put under `prefix` that the store confirmed. */
function reportUploads(store: BlockStore, prefix: string, uploaded: (bytes: number) => void): BlockStore {
  return {
    name: store.name,
    capabilities: store.capabilities,
    get: (key, range) => store.get(key, range),
    put: async (key, data, condition) => {
      const result = await store.put(key, data, condition);
      if (key.startsWith(prefix)) uploaded(data.length);
      return result;
    },
    delete: (keys) => store.delete(keys),
    list: (prefix, options) => store.list(prefix, options),
  };
}
