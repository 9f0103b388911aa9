import type { BlockStore } from '../block-store.js';
import { forEachLimit } from '../concurrency.js';
import { BlockVfsError } from '../errors.js';
import { loadLatest, missingRecord, readRecord, stateAt, type FileState } from './history.js';
import type { CommitRecord, Head } from './objects.js';

/**
 * Everything a database of the atomic layout keeps of its history, read once for the
 * tools that look at all of it (inspectDatabase, listCommits, verifyObjects): the newest
 * state, the state at the oldest commit kept (its checkpoint, or the empty file before
 * any collection), and every commit record after that one.
 */
export interface KeptHistory {
  latest: FileState;
  head: Head | undefined;
  /** The oldest commit that can still be opened: the head's `oldest` (0 before any collection: the empty file). */
  oldest: number;
  /** The state after commit `oldest`. */
  base: FileState;
  /** Records `oldest + 1` … `latest.seq`, ascending. */
  records: CommitRecord[];
}

const SOURCE = '@blockvfs/core';
const PARALLEL_REQUESTS = 16;

/** Reads the kept history; `not-found` when there is no atomic-layout database `name`. */
export async function readKeptHistory(store: BlockStore, name: string): Promise<KeptHistory> {
  const { state: latest, head } = await loadLatest(store, name, { blockSize: 4096 });
  if (latest.seq === 0 && !head)
    throw new BlockVfsError('not-found', `there is no database "${name}" in the atomic layout on this store`, { source: SOURCE, store: store.name });
  const oldest = head?.oldest ?? 0;
  const base = oldest === latest.seq ? latest : await stateAt(store, name, oldest, latest.blockSize, head);
  const records = await readRecordRange(store, name, oldest + 1, latest.seq);
  return { latest, head, oldest, base, records };
}

/** Records `from` … `to`, ascending, read 16 at a time; a missing one is explained (a collection meanwhile, or a gap). */
async function readRecordRange(store: BlockStore, name: string, from: number, to: number): Promise<CommitRecord[]> {
  const seqs = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  const records = new Array<CommitRecord>(seqs.length);
  await forEachLimit(seqs, PARALLEL_REQUESTS, async (seq) => {
    const record = await readRecord(store, name, seq);
    if (!record) throw await missingRecord(store, name, seq);
    records[seq - from] = record;
  });
  return records;
}
