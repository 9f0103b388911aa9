import type { BlockStore } from '../block-store.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { blockCount, blockLength } from '../file-format.js';
import { PagedFile } from '../paged-file.js';
import { AtomicFormat } from './atomic-format.js';
import { readHead, stateAt } from './history.js';
import { checkInspectOptions } from './inspect.js';

/**
 * Makes an older state of an atomic-layout database its newest commit, keeping the
 * history in between (so a restore can itself be undone with another one, until
 * garbage collection). The restore is one ordinary commit: all or nothing, and safe
 * beside other writers (one that commits first makes it fail with
 * `precondition-failed`: run it again).
 */

const SOURCE = '@blockvfs/core';
/** "SQLite format 3\0" */
const SQLITE_MAGIC = new TextEncoder().encode('SQLite format 3\0');

export interface RestoreOptions {
  store: BlockStore;
  name: string;
  /** The commit to bring back: its number, or a time (the newest commit at or before it). */
  asOf: number | Date;
}

export interface RestoreReport {
  /** The commit whose state was brought back. */
  restored: number;
  /** The new commit that holds it (0 when the database already was in that state: nothing was written). */
  commit: number;
  /** Blocks written by the new commit (those that differ from the newest state). */
  blocksWritten: number;
  /** The database's size now. */
  size: number;
}

export async function restoreCommit(options: RestoreOptions): Promise<RestoreReport> {
  const { store, name } = checkInspectOptions(options, 'restoreCommit');
  const old = await AtomicFormat.open(store, name, { blockSize: 4096, asOf: options.asOf, cacheBytes: 0, singleWriter: true });
  const current = await AtomicFormat.open(store, name, { blockSize: old.blockSize, cacheBytes: 0 });
  if (current.seq === 0)
    throw new BlockVfsError('not-found', `there is no database "${name}" in the atomic layout on this store`, { source: SOURCE, store: store.name });
  const from = new PagedFile(old);
  const to = new PagedFile(current);
  try {
    // Only blocks whose object differs are copied: an unchanged block is the same (seq, tag) in both states.
    const head = await readHead(store, name);
    const [then, now] = await Promise.all([stateAt(store, name, old.seq, old.blockSize, head), stateAt(store, name, current.seq, current.blockSize, head)]);
    const { blockSize } = then;
    const changed: number[] = [];
    for (let index = 0; index < blockCount(then.size, blockSize); index++) {
      const a = then.map.get(index);
      const b = now.map.get(index);
      const same = a && b ? a.seq === b.seq && a.tag === b.tag : a === b;
      // The new last block may be shorter or longer in the old state: its length must be rewritten.
      if (!same || (index === blockCount(then.size, blockSize) - 1 && blockLength(index, then.size, blockSize) !== blockLength(index, now.size, blockSize)))
        changed.push(index);
    }
    if (changed.length === 0 && then.size === now.size) return { restored: old.seq, commit: 0, blocksWritten: 0, size: then.size };
    const counters = [await changeCounter(to), await changeCounter(from)];
    const counter = counters.includes(undefined) ? undefined : Math.max(...(counters as number[]));
    for (const index of changed) {
      const data = new Uint8Array(blockLength(index, then.size, blockSize));
      await from.read(data, index * blockSize);
      await to.write(data, index * blockSize);
    }
    await to.truncate(then.size);
    if (counter !== undefined) await setChangeCounter(to, counter + 1);
    await to.sync();
    return { restored: old.seq, commit: current.seq, blocksWritten: changed.length, size: then.size };
  } catch (error) {
    to.discard();
    if (isBlockVfsError(error, 'precondition-failed')) {
      throw new BlockVfsError('precondition-failed', `another writer committed to "${name}" during the restore, which was not applied: run it again`, {
        source: SOURCE,
        store: store.name,
        cause: error,
      });
    }
    throw error;
  } finally {
    await to.close().catch(() => undefined);
  }
}

/**
 * An SQLite file's change counter (header offset 24; undefined for a file that is not
 * SQLite's). The restored state gets one past the newest state's: a connection keeps its
 * page cache while the counter it last saw is unchanged, and the older state's counter
 * could equal one that a connection saw on the replaced history, with other pages behind it.
 */
async function changeCounter(file: PagedFile): Promise<number | undefined> {
  if (file.size < 100) return undefined;
  const header = new Uint8Array(100);
  await file.read(header, 0);
  if (!SQLITE_MAGIC.every((byte, i) => header[i] === byte)) return undefined;
  return new DataView(header.buffer).getUint32(24);
}

/** Sets the change counter and the version-valid-for number (offset 92), as SQLite does at every commit. */
async function setChangeCounter(file: PagedFile, counter: number): Promise<void> {
  if (file.size < 100) return;
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, counter >>> 0);
  await file.write(bytes, 24);
  await file.write(bytes, 92);
}
