import type { BlockStore } from '../block-store.js';
import type { Clock } from '../clock.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { changeCounterOf, headerOf, setChangeCounterPast } from '../change-counter.js';
import { blockCount, blockLength } from '../file-format.js';
import { PagedFile } from '../paged-file.js';
import { AtomicFormat } from './atomic-format.js';
import { loadWholeMap, readHead, stateAt } from './history.js';
import { writersUseLease } from './lease.js';
import { checkInspectOptions } from './inspect.js';

/**
 * Makes an older state of an atomic-layout database its newest commit, keeping the
 * history in between (so a restore can itself be undone with another one, until
 * garbage collection). The restore is one ordinary commit: all or nothing, and safe
 * beside other writers (one that commits first makes it fail with
 * `precondition-failed`: run it again).
 */

const SOURCE = '@blockvfs/core';

export interface RestoreOptions {
  store: BlockStore;
  name: string;
  /** The commit to bring back: its number, or a time (the newest commit at or before it). */
  asOf: number | Date;
  /** Where time comes from (the new commit's time, the writer lease); default the system clock. */
  clock?: Clock;
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
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  const old = await AtomicFormat.open(store, name, { blockSize: 4096, asOf: options.asOf, cacheBytes: 0, singleWriter: true, ...clock });
  // Not while another writer holds the writer lease, when writers use one (see writersUseLease). Released by to.close().
  const lease = await writersUseLease(store, name);
  const current = await AtomicFormat.open(store, name, { blockSize: old.blockSize, cacheBytes: 0, lease, ...clock });
  if (current.seq === 0)
    throw new BlockVfsError('not-found', `there is no database "${name}" in the atomic layout on this store`, { source: SOURCE, store: store.name });
  const from = new PagedFile(old);
  const to = new PagedFile(current);
  try {
    // Only blocks whose object differs are copied: an unchanged block is the same (seq, tag) in both states.
    const head = await readHead(store, name);
    const [then, now] = await Promise.all([stateAt(store, name, old.seq, old.blockSize, head), stateAt(store, name, current.seq, current.blockSize, head)]);
    await Promise.all([loadWholeMap(then), loadWholeMap(now)]);
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
    // The newest state's counter, before the restored state's replaces it (see change-counter.ts).
    const past = changeCounterOf(await headerOf(to));
    for (const index of changed) {
      const data = new Uint8Array(blockLength(index, then.size, blockSize));
      await from.read(data, index * blockSize);
      await to.write(data, index * blockSize);
    }
    await to.truncate(then.size);
    if (past !== undefined) {
      const restored = await headerOf(to);
      setChangeCounterPast(restored, past);
      await to.write(restored, 0);
    }
    await to.sync();
    return { restored: old.seq, commit: current.seq, blocksWritten: changed.length, size: then.size };
  } catch (error) {
    to.discard();
    if (isBlockVfsError(error, 'precondition-failed')) {
      // Another writer committed during the restore, or holds the writer lease: the cause says which.
      throw new BlockVfsError('precondition-failed', `the restore of "${name}" was not applied, for another writer (${error.message}): run it again`, {
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
