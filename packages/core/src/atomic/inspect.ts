import type { BlockStore } from '../block-store.js';
import { storeProblem } from '../argument-checks.js';
import { directBlockKey } from '../direct-format.js';
import { BlockVfsError } from '../errors.js';
import { isCachedStore } from '../layers/cache.js';
import type { Layout } from '../layout.js';
import { hasAtomicDatabase } from '../stored-database.js';
import { readKeptHistory, type KeptHistory } from './kept-history.js';
import { loadWholeMap } from './history.js';
import { atomicBlockKey, atomicHeadKey, atomicLeaseKey, atomicPrefixes, decodeLease, parseBlockKey, parseCheckpointKey, parseSeqKey } from './objects.js';

/**
 * Read-only looks at a stored database, for operators (`blockvfs info`, `blockvfs log`)
 * and for applications that report on their databases: what it holds, what its history
 * keeps, and what that costs on the store. They change nothing and take no lease.
 */

const SOURCE = '@blockvfs/core';
/** "SQLite format 3\0": an SQLite file's first bytes, after which the header gives the page size. */
const SQLITE_MAGIC = new TextEncoder().encode('SQLite format 3\0');

export interface ObjectTally {
  count: number;
  bytes: number;
}

export interface DatabaseInfo {
  name: string;
  layout: Layout;
  blockSize: number;
  /** The database file's size in bytes (of the newest commit). */
  size: number;
  /** SQLite's page size and the number of pages, read from the file's header (undefined when the file is not an SQLite database, or empty). */
  pageSize: number | undefined;
  pageCount: number | undefined;
  /** Atomic layout: the newest commit, with its writer's clock (ms since the epoch). */
  commit: { seq: number; time: number } | undefined;
  /** Atomic layout: the checkpoints the head lists (ascending; the newest is what an open reads first). */
  checkpoints: number[];
  /** Atomic layout: the oldest commit that can be opened with `asOf`, and its time. */
  oldestKept: { seq: number; time: number } | undefined;
  /** Objects of the database on the store, by kind. `garbage` is what `collectGarbage` would delete with no retention at all past what is kept now. */
  objects: {
    blocks: ObjectTally;
    records: ObjectTally;
    checkpoints: ObjectTally;
    /** Block objects no kept commit names (replaced or orphaned), records and checkpoints older than the oldest kept commit. */
    garbage: ObjectTally;
    /** The head and the lease (atomic), or anything else under the name that is none of the above. */
    other: ObjectTally;
    total: ObjectTally;
  };
  /** Atomic layout: the writer lease, when there is a lease object: its holder, until when, and whether that is still ahead of `now`. */
  lease: { owner: string; expires: number; held: boolean } | undefined;
}

export interface InspectOptions {
  store: BlockStore;
  name: string;
  /** The time a lease's expiry is compared with (default now). */
  now?: number;
}

/** What database `name` is and holds, in either layout: `not-found` when there is none. */
export async function inspectDatabase(options: InspectOptions): Promise<DatabaseInfo> {
  const { store, name } = checkInspectOptions(options, 'inspectDatabase');
  if (await hasAtomicDatabase(store, name)) return inspectAtomic(store, name, options.now ?? Date.now());
  return inspectDirect(store, name);
}

async function inspectAtomic(store: BlockStore, name: string, now: number): Promise<DatabaseInfo> {
  const history = await readKeptHistory(store, name);
  const { latest, head, base } = history;
  const objects = await tallyObjects(store, name, history);
  const leaseKey = atomicLeaseKey(name);
  const leaseBytes = await store.get(leaseKey);
  const lease = leaseBytes && decodeLease(leaseBytes, leaseKey, store.name);
  const first = await firstBytesAtomic(store, name, history);
  const header = sqliteHeader(first, latest.size);
  return {
    name,
    layout: 'atomic',
    blockSize: latest.blockSize,
    size: latest.size,
    ...header,
    commit: latest.seq > 0 ? { seq: latest.seq, time: latest.time } : undefined,
    checkpoints: head?.checkpoints ?? [],
    // Before any collection the oldest kept state is the empty file: the oldest commit is then the first.
    oldestKept: base.seq > 0 ? { seq: base.seq, time: base.time } : history.records[0] && { seq: history.records[0].seq, time: history.records[0].time },
    objects,
    lease: lease ? { owner: lease.owner, expires: lease.expires, held: lease.expires > now } : undefined,
  };
}

/** Counts every object under the name by kind, telling garbage by the rules collectGarbage deletes by. */
async function tallyObjects(store: BlockStore, name: string, history: KeptHistory): Promise<DatabaseInfo['objects']> {
  const { latest, oldest, base, records } = history;
  const live = new Set<string>();
  await loadWholeMap(base);
  for (const [index, entry] of base.map.entries()) live.add(atomicBlockKey(name, index, entry.seq, entry.tag));
  for (const record of records) for (const { index } of record.blocks) live.add(atomicBlockKey(name, index, record.seq, record.tag));
  // Blocks a later checkpoint folded from a record's inline bytes carry that record's seq and tag.
  for (const record of records) for (const [index] of record.inline) live.add(atomicBlockKey(name, index, record.seq, record.tag));
  const zero = (): ObjectTally => ({ count: 0, bytes: 0 });
  const objects = { blocks: zero(), records: zero(), checkpoints: zero(), garbage: zero(), other: zero(), total: zero() };
  const add = (tally: ObjectTally, size: number): void => {
    tally.count += 1;
    tally.bytes += size;
    objects.total.count += 1;
    objects.total.bytes += size;
  };
  const prefixes = atomicPrefixes(name);
  for await (const entry of store.list(`${name}/`)) {
    const key = entry.key;
    if (key.startsWith(prefixes.blocks)) {
      const block = parseBlockKey(key.slice(prefixes.blocks.length));
      // Blocks past the newest commit may belong to a commit being made now: not garbage.
      if (block && block.seq <= latest.seq && !live.has(key)) add(objects.garbage, entry.size);
      else add(block ? objects.blocks : objects.other, entry.size);
    } else if (key.startsWith(prefixes.log)) {
      const seq = parseSeqKey(key.slice(prefixes.log.length));
      if (seq === undefined) add(objects.other, entry.size);
      else add(seq <= oldest && oldest > 0 ? objects.garbage : objects.records, entry.size);
    } else if (key.startsWith(prefixes.checkpoints)) {
      // A checkpoint's segments count with it.
      const checkpoint = parseCheckpointKey(key.slice(prefixes.checkpoints.length));
      if (checkpoint === undefined) add(objects.other, entry.size);
      else add(checkpoint.seq < oldest ? objects.garbage : objects.checkpoints, entry.size);
    } else if (key === atomicHeadKey(name) || key === atomicLeaseKey(name)) {
      add(objects.other, entry.size);
    }
    // Anything else under "<name>/" (another database named "<name>/x", a direct-layout file) is not this database's.
  }
  return objects;
}

/** The file's first bytes (up to 100: SQLite's header), from block 0 of the newest commit. */
async function firstBytesAtomic(store: BlockStore, name: string, history: KeptHistory): Promise<Uint8Array | undefined> {
  await history.latest.map.load(0, history.latest.seq);
  const entry = history.latest.map.get(0);
  if (!entry) return undefined;
  if (entry.inline) return entry.inline.subarray(0, 100);
  return store.get(atomicBlockKey(name, 0, entry.seq, entry.tag), { offset: 0, length: 100 });
}

async function inspectDirect(store: BlockStore, name: string): Promise<DatabaseInfo> {
  const prefix = `${name}/`;
  const zero = (): ObjectTally => ({ count: 0, bytes: 0 });
  const blocks = zero();
  const other = zero();
  let blockSize = 0;
  for await (const entry of store.list(prefix)) {
    const suffix = entry.key.slice(prefix.length);
    if (!/^\d{10}$/.test(suffix)) continue; // not a block of this file
    blocks.count += 1;
    blocks.bytes += entry.size;
    if (Number(suffix) === 0) blockSize = entry.size;
  }
  if (blocks.count === 0) throw new BlockVfsError('not-found', `there is no database "${name}" on this store`, { source: SOURCE, store: store.name });
  const first = await store.get(directBlockKey(name, 0), { offset: 0, length: 100 });
  // Every block but the last is whole, so block 0's length is the block size (for a file of two or more blocks).
  return {
    name,
    layout: 'direct',
    blockSize,
    size: blocks.bytes,
    ...sqliteHeader(first, blocks.bytes),
    commit: undefined,
    checkpoints: [],
    oldestKept: undefined,
    objects: { blocks, records: zero(), checkpoints: zero(), garbage: zero(), other, total: { ...blocks } },
    lease: undefined,
  };
}

/** SQLite's page size (header offset 16, big-endian; 1 means 65536) and the page count the file's size gives. */
function sqliteHeader(first: Uint8Array | undefined, size: number): { pageSize: number | undefined; pageCount: number | undefined } {
  if (!first || first.length < 18 || !SQLITE_MAGIC.every((byte, i) => first[i] === byte)) return { pageSize: undefined, pageCount: undefined };
  const raw = ((first[16] as number) << 8) | (first[17] as number);
  const pageSize = raw === 1 ? 65536 : raw;
  return { pageSize, pageCount: pageSize > 0 ? Math.floor(size / pageSize) : undefined };
}

export interface CommitSummary {
  seq: number;
  /** The writer's clock, ms since the epoch. */
  time: number;
  /** The database file's size after the commit. */
  size: number;
  /** Blocks the commit wrote (as block objects and inline); undefined for the oldest kept commit when only its checkpoint is left. */
  blocksWritten: number | undefined;
  /** Of those, carried inside the commit record. */
  inlineBlocks: number | undefined;
}

export interface ListCommitsOptions extends InspectOptions {
  /** At most this many, the newest (default all that are kept). */
  limit?: number;
}

/** The commits an atomic-layout database keeps (those `asOf` can open), newest first. */
export async function listCommits(options: ListCommitsOptions): Promise<CommitSummary[]> {
  const { store, name } = checkInspectOptions(options, 'listCommits');
  const { limit } = options;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) {
    throw new BlockVfsError('invalid', `listCommits: limit must be a positive integer, got ${limit}`, { source: SOURCE, store: store.name });
  }
  const { base, records } = await readKeptHistory(store, name);
  const commits: CommitSummary[] = records.map((record) => ({
    seq: record.seq,
    time: record.time,
    size: record.size,
    blocksWritten: record.blocks.length + record.inline.length,
    inlineBlocks: record.inline.length,
  }));
  // The oldest kept commit, when a collection left only its checkpoint of it (commit 0, the empty file, is no commit).
  if (base.seq > 0) commits.unshift({ seq: base.seq, time: base.time, size: base.size, blocksWritten: undefined, inlineBlocks: undefined });
  commits.reverse();
  return limit === undefined ? commits : commits.slice(0, limit);
}

export function checkInspectOptions(options: InspectOptions, fn: string): { store: BlockStore; name: string } {
  const { store, name } = options ?? ({} as InspectOptions);
  const problem = storeProblem(store);
  if (problem) throw new BlockVfsError('invalid', `${fn} needs a BlockStore as "store": ${problem}`, { source: SOURCE });
  // A cached head could be stale (another process moved it): the same rule as collectGarbage's.
  if (isCachedStore(store))
    throw new BlockVfsError('invalid', `${fn} cannot use a store wrapped in withCache: it would read the head stale`, { source: SOURCE, store: store.name });
  if (typeof name !== 'string' || name.length === 0)
    throw new BlockVfsError('invalid', `${fn}: "name" must be a non-empty string`, { source: SOURCE, store: store.name });
  return { store, name };
}
