import type { BlockStore } from '../block-store.js';
import { forEachLimit } from '../concurrency.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { blockCount } from '../file-format.js';
import {
  atomicBlockKey,
  atomicCheckpointKey,
  atomicCommitKey,
  atomicHeadKey,
  atomicPrefixes,
  decodeCheckpoint,
  decodeHead,
  decodeRecord,
  encodeCheckpoint,
  encodeHead,
  parseSeqKey,
  type CommitRecord,
  type Head,
} from './objects.js';

/**
 * Reading a file's history in the atomic layout: its state at a commit (block map,
 * size), built from a checkpoint and the commit records after it, and the head
 * object that says where the checkpoints are. Shared by AtomicFormat (open, refresh,
 * time travel) and the garbage collector.
 */

const SOURCE = '@blockvfs/core';
/** The most commit records fetched at once while catching up (the window doubles from 1). */
const MAX_PROBE_WINDOW = 16;
/** Attempts at a conditional head update before giving up (each one lost to another writer). */
const HEAD_UPDATE_ATTEMPTS = 8;
/** Parallel block uploads when a checkpoint folds inline blocks. */
const PARALLEL_REQUESTS = 16;

/** Where the current version of a block is: a block object, or bytes that came inline in a commit record. */
export interface BlockEntry {
  seq: number;
  tag: string;
  /** The bytes, when the block travelled inline in a record not yet folded by a checkpoint. */
  inline?: Uint8Array;
}

/** A file's state after commit `seq`. */
export interface FileState {
  seq: number;
  /** Time of commit `seq` (0 for the empty file). */
  time: number;
  size: number;
  blockSize: number;
  map: Map<number, BlockEntry>;
}

export function emptyState(blockSize: number): FileState {
  return { seq: 0, time: 0, size: 0, blockSize, map: new Map() };
}

export function copyState(state: FileState): FileState {
  return { ...state, map: new Map(state.map) };
}

/** Applies a commit record (which must be `state.seq + 1`) to `state`. */
export function applyRecord(state: FileState, record: CommitRecord): void {
  const count = blockCount(record.size, state.blockSize);
  for (const index of [...state.map.keys()]) if (index >= count) state.map.delete(index);
  for (const index of record.blocks) state.map.set(index, { seq: record.seq, tag: record.tag });
  for (const [index, data] of record.inline) state.map.set(index, { seq: record.seq, tag: record.tag, inline: data });
  state.size = record.size;
  state.seq = record.seq;
  state.time = record.time;
}

export async function readHead(store: BlockStore, name: string): Promise<Head | undefined> {
  const key = atomicHeadKey(name);
  const bytes = await store.get(key);
  return bytes && decodeHead(bytes, key, store.name);
}

/**
 * The etag of object `key` from a listing of that one key (BlockStore.get returns no
 * etag), or undefined when it does not exist. Read it before the bytes: bytes read
 * after it are never older, so a conditional put with it fails if they changed since.
 */
export async function listedEtag(store: BlockStore, key: string): Promise<string | undefined> {
  for await (const entry of store.list(key)) return entry.key === key ? entry.etag : undefined;
  return undefined;
}

/** The head with the etag a conditional update needs: the etag from a listing first, then the bytes. */
export async function readHeadVersioned(store: BlockStore, name: string): Promise<VersionedHead> {
  const etag = await listedEtag(store, atomicHeadKey(name));
  const head = await readHead(store, name);
  return { head, etag: head && etag };
}

export interface VersionedHead {
  /** The head, or undefined when there is none. */
  head: Head | undefined;
  /** Its etag, when known (from our own put, or from a listing). */
  etag: string | undefined;
}

/**
 * Changes the head with `change` (which gets the current head, or undefined when there
 * is none, and returns the new one, or undefined to leave it as it is), conditionally:
 * a concurrent update makes it read the head again and re-apply `change`, so no update
 * is lost and the head never goes back. `known` is the head as last seen (with its
 * etag, or known to be absent), which saves reading it when nobody else changed it;
 * reading it costs a LIST (for the etag) and a GET.
 */
export async function updateHead(
  store: BlockStore,
  name: string,
  change: (head: Head | undefined) => Head | undefined,
  known?: VersionedHead,
): Promise<VersionedHead> {
  const key = atomicHeadKey(name);
  let current = known !== undefined && (known.head === undefined || known.etag !== undefined) ? known : undefined;
  for (let attempt = 0; attempt < HEAD_UPDATE_ATTEMPTS; attempt++) {
    current ??= await readHeadVersioned(store, name);
    const next = change(current.head);
    if (next === undefined) return current;
    const condition = !store.capabilities.conditionalPut
      ? undefined
      : current.head === undefined
        ? ({ ifNoneMatch: '*' } as const)
        : current.etag === undefined
          ? undefined // a store that lists no etags: nothing to condition on
          : { ifMatch: current.etag };
    try {
      const { etag } = await store.put(key, encodeHead(next), condition);
      return { head: next, etag };
    } catch (error) {
      if (!isBlockVfsError(error, 'precondition-failed')) throw error;
      current = undefined; // someone else changed it: read it again and re-apply
    }
  }
  throw new BlockVfsError('transient', `the head of "${name}" kept changing under ${HEAD_UPDATE_ATTEMPTS} conditional updates; try again`, {
    source: SOURCE,
    store: store.name,
  });
}

export async function readRecord(store: BlockStore, name: string, seq: number): Promise<CommitRecord | undefined> {
  const key = atomicCommitKey(name, seq);
  const bytes = await store.get(key);
  return bytes && decodeRecord(bytes, key, seq, store.name);
}

/** The state at checkpoint `seq`, or undefined when that checkpoint does not exist. */
export async function readCheckpointState(store: BlockStore, name: string, seq: number): Promise<FileState | undefined> {
  const key = atomicCheckpointKey(name, seq);
  const bytes = await store.get(key);
  if (!bytes) return undefined;
  const checkpoint = decodeCheckpoint(bytes, key, seq, store.name);
  return { seq, time: checkpoint.time, size: checkpoint.size, blockSize: checkpoint.blockSize, map: new Map(checkpoint.map) };
}

/** The newest checkpoint on the store, found by listing (only when the head's is gone: a repair path). */
export async function newestListedCheckpoint(store: BlockStore, name: string): Promise<number> {
  const prefix = atomicPrefixes(name).checkpoints;
  let newest = 0;
  for await (const entry of store.list(prefix)) newest = Math.max(newest, parseSeqKey(entry.key.slice(prefix.length)) ?? 0);
  return newest;
}

/**
 * Applies the records after `state.seq`, up to `until`, fetching a window that doubles
 * from 1 up to 16 (one GET when there are none). Stops at the first missing record: one
 * seen after a gap in the same window was created after that GET and is read next time.
 * Records are contiguous: a writer creates N+1 only after applying N.
 */
export async function catchUp(store: BlockStore, name: string, state: FileState, until = Number.MAX_SAFE_INTEGER): Promise<void> {
  let window = 1;
  while (state.seq < until) {
    const first = state.seq + 1;
    const seqs = Array.from({ length: Math.min(window, until - state.seq) }, (_, i) => first + i);
    const fetched = await Promise.all(seqs.map((seq) => readRecord(store, name, seq)));
    for (const record of fetched) {
      if (record === undefined) return;
      // A new file takes the block size of its first commit; after that every record must agree.
      if (state.seq === 0) state.blockSize = record.blockSize;
      if (record.blockSize !== state.blockSize) {
        throw new BlockVfsError('permanent', `commit ${record.seq} of "${name}" has block size ${record.blockSize}, but the file has ${state.blockSize}`, {
          source: SOURCE,
          store: store.name,
        });
      }
      applyRecord(state, record);
    }
    window = Math.min(window * 2, MAX_PROBE_WINDOW);
  }
}

/**
 * The state at commit `seq` exactly, from the newest kept checkpoint at or before it
 * and the records after that one. Rejects with `not-found` when the commit is older
 * than what the store keeps, or newer than the newest.
 */
export async function stateAt(store: BlockStore, name: string, seq: number, blockSize: number, head: Head | undefined): Promise<FileState> {
  const oldest = head?.oldest ?? 0;
  if (seq < oldest) {
    throw new BlockVfsError('not-found', `commit ${seq} of "${name}" is no longer kept: the oldest that can be opened is ${oldest}`, { source: SOURCE, store: store.name });
  }
  const from = (head?.checkpoints ?? []).filter((c) => c <= seq).pop() ?? 0;
  const state = from > 0 ? await readCheckpointState(store, name, from) : emptyState(blockSize);
  if (!state) throw new BlockVfsError('not-found', `checkpoint ${from} of "${name}" is gone (deleted by a garbage collection running now?); try again`, { source: SOURCE, store: store.name });
  await catchUp(store, name, state, seq);
  if (state.seq !== seq) {
    throw new BlockVfsError('not-found', `commit ${seq} of "${name}" does not exist (the newest is ${state.seq})`, { source: SOURCE, store: store.name });
  }
  return state;
}

/** The newest state: the head's checkpoint and the records after it (for read-only uses: time travel, the collector). */
export async function latestState(store: BlockStore, name: string, blockSize: number, head: Head | undefined): Promise<FileState> {
  const from = head?.checkpoint ?? 0;
  const state = (from > 0 ? await readCheckpointState(store, name, from) : undefined) ?? emptyState(blockSize);
  await catchUp(store, name, state);
  return state;
}

/**
 * The newest kept commit at or before `time`, by bisection on record times (which
 * never go back), or undefined when every kept commit is newer. `latest` is the newest state.
 */
export async function commitAtOrBefore(store: BlockStore, name: string, latest: FileState, head: Head | undefined, time: number): Promise<number | undefined> {
  if (latest.seq === 0) return undefined;
  if (latest.time <= time) return latest.seq;
  const oldest = Math.max(1, head?.oldest ?? 0);
  // The oldest kept commit may have only its checkpoint left (the collector deletes the records up to it).
  const timeOf = async (seq: number): Promise<number> =>
    seq === head?.oldest ? (await stateAt(store, name, seq, latest.blockSize, head)).time : commitTime(store, name, seq);
  if ((await timeOf(oldest)) > time) return undefined;
  let low = oldest; // time(low) <= time
  let high = latest.seq - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((await timeOf(middle)) <= time) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** The time of commit `seq` (> 0), from its record. */
export async function commitTime(store: BlockStore, name: string, seq: number): Promise<number> {
  const record = await readRecord(store, name, seq);
  if (!record) throw new BlockVfsError('not-found', `commit ${seq} of "${name}" is gone (deleted by a garbage collection running now?); try again`, { source: SOURCE, store: store.name });
  return record.time;
}

/**
 * Writes checkpoint `state.seq`: first every block still held inline as its block
 * object (the key it would have had, the same bytes: idempotent), then the checkpoint
 * with create-if-absent (one that exists already holds the same map: accepted). Blocks
 * go through `blocks` (a cached view of `store`, say). Returns the entries folded.
 */
export async function writeCheckpoint(store: BlockStore, name: string, state: FileState, blocks: BlockStore = store): Promise<Array<[number, BlockEntry]>> {
  const folded = [...state.map].filter(([, entry]) => entry.inline !== undefined);
  await forEachLimit(folded, PARALLEL_REQUESTS, async ([index, entry]) => {
    await blocks.put(atomicBlockKey(name, index, entry.seq, entry.tag), entry.inline as Uint8Array);
  });
  const map = new Map([...state.map].map(([index, { seq, tag }]) => [index, { seq, tag }]));
  const body = encodeCheckpoint({ seq: state.seq, time: state.time, size: state.size, blockSize: state.blockSize, map });
  try {
    await store.put(atomicCheckpointKey(name, state.seq), body, store.capabilities.conditionalPut ? { ifNoneMatch: '*' } : undefined);
  } catch (error) {
    if (!isBlockVfsError(error, 'precondition-failed')) throw error;
  }
  return folded;
}
