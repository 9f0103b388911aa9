import type { BlockStore } from '../block-store.js';
import { storeProblem } from '../argument-checks.js';
import { BlockVfsError } from '../errors.js';
import { isCachedStore } from '../layers/cache.js';
import { VIEW_TRUST_MS } from './view-trust.js';
import { commitAtOrBefore, loadLatest, loadWholeMap, readHead, stateAt, updateHead, writeCheckpoint } from './history.js';
import { atomicBlockKey, atomicPrefixes, parseBlockKey, parseCheckpointKey, parseSeqKey, type Head } from './objects.js';

const SOURCE = '@blockvfs/core';

/** How far back history is kept by default, by collectGarbage and by openDatabase's background collection: a day of time travel. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_GRACE_MS = 10 * 60 * 1000;
/** The shortest grace period allowed: a writer trusts its view of the file for VIEW_TRUST_MS, so history younger than twice that is never removed. */
export const MIN_GRACE_MS = 2 * VIEW_TRUST_MS;

export interface CollectGarbageOptions {
  store: BlockStore;
  /** The database's name on the store. */
  name: string;
  /** Keep every commit made within this many ms: time travel (`asOf`) reaches back this far. Default 24 hours. */
  retentionMs?: number;
  /**
   * Keep what a reader on an older snapshot could still read for this many ms after a
   * newer commit replaced it (and what a writer's view could still miss). Default 10
   * minutes; at least 2 minutes.
   */
  graceMs?: number;
  /** Find what would be deleted, delete nothing (and write nothing). */
  dryRun?: boolean;
  /** The time to measure retention and grace from (ms since the epoch); default the clock's. */
  now?: number;
  onProgress?: (progress: GarbageProgress) => void;
}

export interface GarbageProgress {
  phase: 'reading' | 'listing' | 'deleting';
  /** Objects looked at (listing) or deleted (deleting) so far. */
  objects: number;
}

export interface GarbageReport {
  /** The newest commit when the collection started. */
  latest: number;
  /** The oldest commit that can still be opened (with `asOf`) afterwards. */
  oldestKept: number;
  /** What was deleted (or, with `dryRun`, would be). */
  deleted: { blocks: number; records: number; checkpoints: number; bytes: number };
  /**
   * Block objects kept: of the oldest kept state or written after it (by a kept commit, or by an
   * attempt that lost its seq, collected once the oldest kept commit passes it), or
   * (`pending`) possibly of a commit still being made.
   */
  kept: { blocks: number; pending: number };
}

/**
 * Deletes what no kept commit of database `name` (atomic layout) references: block
 * objects replaced or orphaned (by failed commits) before the horizon, and the records
 * and checkpoints older than the oldest kept commit. The horizon is `retentionMs` or
 * `graceMs` ago, whichever is further back; the commit in force at the horizon stays
 * openable, and so does every later one. Safe beside writers and readers: it never
 * deletes anything a commit newer than the horizon names, nor blocks of a commit that
 * may still be in progress. It may list the store (it is not on any hot path).
 */
export async function collectGarbage(options: CollectGarbageOptions): Promise<GarbageReport> {
  const { store, name } = options;
  const retention = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const invalid = (message: string): BlockVfsError => new BlockVfsError('invalid', message, { source: SOURCE, store: store?.name });
  const storeIssue = storeProblem(store);
  if (storeIssue) throw invalid(`collectGarbage needs a BlockStore as "store": ${storeIssue}`);
  if (isCachedStore(store)) throw invalid('collectGarbage cannot use a store wrapped in withCache: it would read the head stale');
  if (typeof name !== 'string' || name.length === 0) throw invalid('"name" must be a non-empty string');
  if (!Number.isSafeInteger(retention) || retention < 0) throw invalid(`retentionMs must be a non-negative integer of ms, got ${retention}`);
  if (!Number.isSafeInteger(grace) || grace < MIN_GRACE_MS) throw invalid(`graceMs must be an integer of at least ${MIN_GRACE_MS} ms, got ${grace}`);
  if (options.now !== undefined && !(Number.isSafeInteger(options.now) && options.now >= 0)) {
    throw invalid(`now must be a time in ms since the epoch (a non-negative integer), got ${options.now}`);
  }
  const progress = options.onProgress ?? (() => undefined);
  const horizon = (options.now ?? Date.now()) - Math.max(retention, grace);

  progress({ phase: 'reading', objects: 0 });
  const { state: latest, head } = await loadLatest(store, name, { blockSize: 4096 });
  if (latest.seq === 0 && !head)
    throw new BlockVfsError('not-found', `there is no database "${name}" in the atomic layout on this store`, { source: SOURCE, store: store.name });

  // The commit in force at the horizon, and from there on everything is kept.
  const floor = head?.oldest ?? 0;
  const atHorizon = await commitAtOrBefore(store, name, latest, head, horizon);
  const oldestKept = Math.max(floor, atHorizon ?? 0);
  const base = oldestKept === latest.seq ? latest : await stateAt(store, name, oldestKept, latest.blockSize, head);

  if (!options.dryRun && oldestKept > floor) {
    // Another collection may have moved the head on while this one read: a checkpoint below its
    // oldest would be garbage at once (and its folded blocks may be gone already).
    const current = await readHead(store, name);
    if (!current || current.oldest < oldestKept) {
      if (!current?.checkpoints.includes(oldestKept)) await writeCheckpoint(store, name, base);
      await updateHead(store, name, (now) => withOldest(now, oldestKept, base.blockSize));
    }
  }

  // Live: the blocks of the oldest kept state, and every block a later commit wrote. The
  // latter are not read from the records (with a day's retention that would be every
  // record of the day, each with its inline blocks, at every collection): every block
  // object with a seq past the oldest kept commit is kept. That keeps too the orphans of
  // attempts that lost a seq in that range, until the oldest kept commit passes them.
  const live = new Set<string>();
  await loadWholeMap(base);
  for (const [index, entry] of base.map.entries()) live.add(atomicBlockKey(name, index, entry.seq, entry.tag));

  const prefixes = atomicPrefixes(name);
  const doomed: string[] = [];
  const report: GarbageReport = {
    latest: latest.seq,
    oldestKept,
    deleted: { blocks: 0, records: 0, checkpoints: 0, bytes: 0 },
    kept: { blocks: 0, pending: 0 },
  };
  let seen = 0;
  const look = (): void => {
    seen += 1;
    if (seen % 1000 === 0) progress({ phase: 'listing', objects: seen });
  };
  progress({ phase: 'listing', objects: 0 });
  for await (const entry of store.list(prefixes.blocks)) {
    look();
    const block = parseBlockKey(entry.key.slice(prefixes.blocks.length));
    if (!block) continue; // not ours: leave it
    if (block.seq > latest.seq)
      report.kept.pending += 1; // a commit that may be in progress now
    else if (block.seq > oldestKept || live.has(entry.key)) report.kept.blocks += 1;
    else {
      doomed.push(entry.key);
      report.deleted.blocks += 1;
      report.deleted.bytes += entry.size;
    }
  }
  for await (const entry of store.list(prefixes.log)) {
    look();
    const seq = parseSeqKey(entry.key.slice(prefixes.log.length));
    if (seq === undefined || seq > oldestKept) continue;
    doomed.push(entry.key);
    report.deleted.records += 1;
    report.deleted.bytes += entry.size;
  }
  // A checkpoint's segments go with it (counted in its bytes, not as checkpoints of their own).
  for await (const entry of store.list(prefixes.checkpoints)) {
    look();
    const checkpoint = parseCheckpointKey(entry.key.slice(prefixes.checkpoints.length));
    if (checkpoint === undefined || checkpoint.seq >= oldestKept) continue;
    doomed.push(entry.key);
    if (!checkpoint.segment) report.deleted.checkpoints += 1;
    report.deleted.bytes += entry.size;
  }

  if (!options.dryRun && doomed.length > 0) {
    const batch = Math.max(1, Math.min(1000, store.capabilities.maxDeleteBatch));
    for (let start = 0; start < doomed.length; start += batch) {
      await store.delete(doomed.slice(start, start + batch));
      progress({ phase: 'deleting', objects: Math.min(doomed.length, start + batch) });
    }
  }
  return report;
}

/** The head once commits before `oldest` are gone: `oldest` listed as a checkpoint, older ones dropped. */
function withOldest(head: Head | undefined, oldest: number, blockSize: number): Head | undefined {
  if (head && head.oldest >= oldest) return undefined;
  const checkpoints = [...new Set([...(head?.checkpoints ?? []), oldest])].filter((seq) => seq >= oldest).sort((a, b) => a - b);
  return { checkpoint: Math.max(head?.checkpoint ?? 0, oldest), checkpoints, oldest, blockSize: head?.blockSize ?? blockSize };
}
