import type { BlockStore } from '../block-store.js';
import { forEachLimit } from '../concurrency.js';
import { crc32c } from '../checksum.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { blockCount } from '../file-format.js';
import { BlockMap, type MapBase } from './block-map.js';
import {
  atomicBlockKey,
  atomicCheckpointKey,
  atomicSegmentKey,
  atomicCommitKey,
  atomicHeadKey,
  atomicPrefixes,
  decodeCheckpoint,
  decodeHead,
  decodeRecord,
  decodeSegment,
  encodeCheckpoint,
  encodeHead,
  encodeSegment,
  parseSeqKey,
  type Checkpoint,
  type CheckpointEntry,
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
/** Parallel block uploads when a checkpoint folds inline blocks, and parallel segment uploads. */
const PARALLEL_REQUESTS = 16;
/**
 * A checkpoint of a file of more blocks than this is segmented (its map in segments of
 * at least this many blocks, each its own object), so that opening the file reads the
 * segment it needs first, not the whole map: 1024 blocks is 4 to 24 KiB of map.
 */
export const DEFAULT_SEGMENT_BLOCKS = 1024;
/** A segmented checkpoint has at most this many segments (larger segments past that): a checkpoint's PUTs stay bounded. */
const MAX_SEGMENTS = 64;
/**
 * The most hot entries a segmented checkpoint's root carries (about 17 bytes each while
 * their blocks are of few commits, as interior pages are: 35 KiB). A 2 GB table of 4 KiB
 * pages has about 1,100 interior pages; past this, the lowest-numbered blocks' are kept.
 */
const MAX_HOT_ENTRIES = 2048;
/** The segment minimum of writers given none: DEFAULT_SEGMENT_BLOCKS, unless a test changed it (setSegmentMinimum). */
let segmentMinimum = DEFAULT_SEGMENT_BLOCKS;

/**
 * Sets the segment minimum of every checkpoint written without one given (the
 * collector's, and writers opened without `checkpointSegmentBlocks`), and returns the
 * one before. For tests (`@blockvfs/core/testing`): the simulation segments its small
 * databases this way.
 */
export function setSegmentMinimum(blocks: number): number {
  if (!(Number.isSafeInteger(blocks) && blocks >= 1))
    throw new BlockVfsError('invalid', `a segment minimum must be a positive integer, got ${blocks}`, { source: SOURCE });
  const before = segmentMinimum;
  segmentMinimum = blocks;
  return before;
}

/** Where the current version of a block is: a block object, or bytes that came inline in a commit record. */
export interface BlockEntry {
  seq: number;
  tag: string;
  /** CRC-32C of the block object's bytes (undefined: written under format version 1, or held inline). */
  crc: number | undefined;
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
  map: BlockMap;
  /**
   * Blocks that hold B-tree interior pages, as far as this state's readers and writers
   * have seen (AtomicFormat notes them from the bytes; a segmented checkpoint's root
   * carries their entries, see writeCheckpoint). A hint: only which entries are copied
   * into a root depends on it.
   */
  hot: Set<number>;
}

export function emptyState(blockSize: number): FileState {
  return { seq: 0, time: 0, size: 0, blockSize, map: BlockMap.of(), hot: new Set() };
}

export function copyState(state: FileState): FileState {
  return { ...state, map: state.map.copy(), hot: new Set(state.hot) };
}

/** Loads every segment of `state`'s checkpoint not loaded yet (for what needs the whole map). */
export async function loadWholeMap(state: FileState): Promise<void> {
  await state.map.loadAll(state.seq);
}

/** Applies a commit record (which must be `state.seq + 1`, with the state's block size) to `state`. */
export function applyRecord(state: FileState, record: CommitRecord): void {
  const count = blockCount(record.size, state.blockSize);
  // Every entry lies below the old size's block count, so only a shrink can leave some past the end.
  if (record.size < state.size) {
    state.map.truncate(count);
    for (const index of state.hot) if (index >= count) state.hot.delete(index);
  }
  for (const { index, crc } of record.blocks) state.map.set(index, { seq: record.seq, tag: record.tag, crc });
  for (const [index, data] of record.inline) state.map.set(index, { seq: record.seq, tag: record.tag, crc: undefined, inline: data });
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
export async function readHeadWithEtag(store: BlockStore, name: string): Promise<HeadWithEtag> {
  const etag = await listedEtag(store, atomicHeadKey(name));
  const head = await readHead(store, name);
  return { head, etag: head && etag };
}

export interface HeadWithEtag {
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
  known?: HeadWithEtag,
): Promise<HeadWithEtag> {
  const key = atomicHeadKey(name);
  let current = known !== undefined && (known.head === undefined || known.etag !== undefined) ? known : undefined;
  for (let attempt = 0; attempt < HEAD_UPDATE_ATTEMPTS; attempt++) {
    current ??= await readHeadWithEtag(store, name);
    if (store.capabilities.conditionalPut && current.head !== undefined && current.etag === undefined) {
      // The listing did not show the head that the read then found: it was made in between. A store with
      // conditional puts lists etags, so look again; a put without a condition could undo that update.
      current = undefined;
      continue;
    }
    const next = change(current.head);
    if (next === undefined) return current;
    const condition = !store.capabilities.conditionalPut
      ? undefined
      : current.head === undefined
        ? ({ ifNoneMatch: '*' } as const)
        : { ifMatch: current.etag as string };
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

/**
 * The state at checkpoint `seq`, or undefined when that checkpoint does not exist. A
 * segmented checkpoint's map is loaded a segment at a time when first needed (its first
 * segment right away, since the file's header is read first, unless the root's hot
 * entries hold block 0's: then the segment waits for a block that needs it, as any
 * other); `strict` turns off the fallback
 * on a newer checkpoint when a segment is missing (for verify, which must see it).
 */
export async function readCheckpointState(store: BlockStore, name: string, seq: number, strict = false): Promise<FileState | undefined> {
  const checkpoint = await readCheckpoint(store, name, seq);
  if (!checkpoint) return undefined;
  const { time, size, blockSize, map, segmentBlocks, hot } = checkpoint;
  if (map !== undefined) return { seq, time, size, blockSize, map: BlockMap.of(map), hot: new Set() };
  const base = segmentedBase(store, name, checkpoint, segmentBlocks as number, strict);
  const lazy = BlockMap.lazy(base, segmentCount(size, blockSize, segmentBlocks as number), hot);
  const state: FileState = { seq, time, size, blockSize, map: lazy, hot: new Set(hot.keys()) };
  // Not awaited: it overlaps the catch-up that follows; a failure is met again by the read that needs it.
  state.map.load(0, seq).catch(() => undefined);
  return state;
}

async function readCheckpoint(store: BlockStore, name: string, seq: number): Promise<Checkpoint | undefined> {
  const key = atomicCheckpointKey(name, seq);
  const bytes = await store.get(key);
  return bytes && decodeCheckpoint(bytes, key, seq, store.name);
}

function segmentCount(size: number, blockSize: number, segmentBlocks: number): number {
  return Math.ceil(blockCount(size, blockSize) / segmentBlocks);
}

/** Segment `segment` of segmented checkpoint `checkpoint`, or undefined when its object is missing. */
async function readSegment(store: BlockStore, name: string, checkpoint: Checkpoint, segment: number): Promise<Map<number, CheckpointEntry> | undefined> {
  const segmentBlocks = checkpoint.segmentBlocks as number;
  const first = segment * segmentBlocks;
  const count = Math.min(segmentBlocks, blockCount(checkpoint.size, checkpoint.blockSize) - first);
  const key = atomicSegmentKey(name, checkpoint.seq, segmentBlocks, segment);
  const bytes = await store.get(key);
  return bytes && decodeSegment(bytes, key, checkpoint.seq, segment, first, count, store.name);
}

/**
 * The base of a map read from segmented checkpoint `checkpoint`. A segment found missing
 * is read from the newest checkpoint the head still lists after this one and at or
 * before the state asking: a collection removes a checkpoint (and its segments) once a
 * newer one covers every commit it keeps, and a view standing on the old one for longer
 * than that (idle, or reading) loads its part from the newer one instead (the merge in
 * BlockMap keeps what the commits in between changed).
 */
function segmentedBase(store: BlockStore, name: string, checkpoint: Checkpoint, segmentBlocks: number, strict: boolean): MapBase {
  return {
    segmentBlocks,
    load: async (segment, atMost) => {
      const entries = await readSegment(store, name, checkpoint, segment);
      if (entries) return checkHotEntries(store, name, checkpoint, segment, entries);
      const key = atomicSegmentKey(name, checkpoint.seq, segmentBlocks, segment);
      const head = await readHead(store, name);
      const first = segment * segmentBlocks;
      const candidates = strict ? [] : (head?.checkpoints ?? []).filter((c) => c > checkpoint.seq && c <= atMost);
      for (const seq of candidates.reverse()) {
        const newer = await readCheckpoint(store, name, seq);
        if (!newer) continue;
        const found = newer.map ?? (await newerSegments(store, name, newer, first, first + segmentBlocks));
        if (found) return new Map([...found].filter(([index]) => index >= first && index < first + segmentBlocks));
      }
      // Collected with its checkpoint (the head no longer lists it), or damage.
      const collected = !(head?.checkpoints.includes(checkpoint.seq) ?? false);
      throw new BlockVfsError(
        collected ? 'transient' : 'permanent',
        collected
          ? `checkpoint ${checkpoint.seq} of "${name}", which this view of commit ${atMost} stands on, was collected` +
              (strict ? '' : ', and no newer checkpoint at or before that commit is kept: the view is older than what the store keeps; reopen the database')
          : `"${name}" is damaged: segment ${segment} of checkpoint ${checkpoint.seq} (object "${key}") is missing`,
        { source: SOURCE, store: store.name },
      );
    },
  };
}

/**
 * `entries`, segment `segment` of `checkpoint`, once its root's copies of hot entries in
 * it are found the same: two halves of one checkpoint that disagree are damage.
 */
function checkHotEntries(
  store: BlockStore,
  name: string,
  checkpoint: Checkpoint,
  segment: number,
  entries: Map<number, CheckpointEntry>,
): Map<number, CheckpointEntry> {
  const segmentBlocks = checkpoint.segmentBlocks as number;
  for (const [index, hot] of checkpoint.hot) {
    if (Math.floor(index / segmentBlocks) !== segment) continue;
    const entry = entries.get(index);
    if (entry?.seq === hot.seq && entry.tag === hot.tag && entry.crc === hot.crc) continue;
    throw new BlockVfsError(
      'permanent',
      `"${name}" is damaged: checkpoint ${checkpoint.seq} (object "${atomicCheckpointKey(name, checkpoint.seq)}") says block ${index} is ` +
        `${describeEntry(hot)}, but its segment ${segment} (object "${atomicSegmentKey(name, checkpoint.seq, segmentBlocks, segment)}") says ` +
        (entry ? describeEntry(entry) : 'it has none'),
      { source: SOURCE, store: store.name },
    );
  }
  return entries;
}

function describeEntry({ seq, tag, crc }: CheckpointEntry): string {
  return `of commit ${seq} (tag ${tag}, ${crc === undefined ? 'no checksum' : `CRC-32C ${crc.toString(16).padStart(8, '0')}`})`;
}

/** The entries of blocks `first` … `end − 1` from segmented checkpoint `checkpoint`, or undefined when one of the segments is missing. */
async function newerSegments(
  store: BlockStore,
  name: string,
  checkpoint: Checkpoint,
  first: number,
  end: number,
): Promise<Map<number, CheckpointEntry> | undefined> {
  const segmentBlocks = checkpoint.segmentBlocks as number;
  const last = Math.min(Math.ceil(end / segmentBlocks), segmentCount(checkpoint.size, checkpoint.blockSize, segmentBlocks));
  const found = new Map<number, CheckpointEntry>();
  for (let segment = Math.floor(first / segmentBlocks); segment < last; segment++) {
    const entries = await readSegment(store, name, checkpoint, segment);
    if (!entries) return undefined;
    for (const [index, entry] of entries) found.set(index, entry);
  }
  return found;
}

/** The newest checkpoint on the store, found by listing (only when the head's is gone: a repair path). */
export async function newestListedCheckpoint(store: BlockStore, name: string): Promise<number> {
  const prefix = atomicPrefixes(name).checkpoints;
  let newest = 0;
  for await (const entry of store.list(prefix)) newest = Math.max(newest, parseSeqKey(entry.key.slice(prefix.length)) ?? 0);
  return newest;
}

/**
 * The records after commit `after`, up to `until`, in order, fetched in windows that
 * double from 1 up to 16 (one GET when there are none). Stops at the first missing
 * one: a record seen after a gap in the same window was created after that GET and is
 * read next time (records are contiguous: a writer creates N+1 only after applying N).
 * Whether a missing record is the end of history or a gap is the caller's to ask
 * (`firstRecordAfter`).
 */
export async function recordsAfter(store: BlockStore, name: string, after: number, until = Number.MAX_SAFE_INTEGER): Promise<CommitRecord[]> {
  const records: CommitRecord[] = [];
  let window = 1;
  for (let next = after + 1; next <= until; ) {
    const seqs = Array.from({ length: Math.min(window, until - next + 1) }, (_, i) => next + i);
    const fetched = await Promise.all(seqs.map((seq) => readRecord(store, name, seq)));
    for (const record of fetched) {
      if (record === undefined) return records;
      records.push(record);
      next += 1;
    }
    window = Math.min(window * 2, MAX_PROBE_WINDOW);
  }
  return records;
}

/**
 * Moves `state` to the newest commit (or to `until`): fetches the records after it
 * (`recordsAfter`), checks them all, then applies them all at once, with no await in
 * between. So a failed request leaves `state` exactly where it was, never part-way
 * (a view half-way between two commits would mix their blocks).
 */
export async function catchUp(store: BlockStore, name: string, state: FileState, until = Number.MAX_SAFE_INTEGER): Promise<void> {
  applyRecords(name, store.name, state, await recordsAfter(store, name, state.seq, until));
}

/**
 * Applies `records` (which follow `state.seq` in order) to `state`: all of them, or, when
 * one does not fit, none (a `permanent` error naming it). No await: nothing sees a state
 * between two commits.
 */
export function applyRecords(name: string, storeName: string, state: FileState, records: readonly CommitRecord[]): void {
  // A new file takes the block size of its first commit; after that every record must agree.
  const blockSize = state.seq === 0 ? (records[0]?.blockSize ?? state.blockSize) : state.blockSize;
  for (const record of records) {
    if (record.blockSize !== blockSize) {
      throw new BlockVfsError('permanent', `commit ${record.seq} of "${name}" has block size ${record.blockSize}, but the file has ${blockSize}`, {
        source: SOURCE,
        store: storeName,
      });
    }
  }
  state.blockSize = blockSize;
  for (const record of records) applyRecord(state, record);
}

/**
 * The sequence number of some commit record after commit `seq`, from a listing (the
 * first key past it), or undefined when there is none. Asked when a catch-up found
 * record `seq` missing: a later record means a gap in the history (or a record created
 * since), never the end of it.
 */
export async function firstRecordAfter(store: BlockStore, name: string, seq: number): Promise<number | undefined> {
  const prefix = atomicPrefixes(name).log;
  for await (const entry of store.list(prefix, { startAfter: atomicCommitKey(name, seq) })) {
    const found = parseSeqKey(entry.key.slice(prefix.length));
    if (found !== undefined && found > seq) return found;
  }
  return undefined;
}

/**
 * The state at commit `seq` exactly, from the newest kept checkpoint at or before it
 * and the records after that one. Rejects with `not-found` when the commit is older
 * than what the store keeps, or newer than the newest.
 */
export async function stateAt(store: BlockStore, name: string, seq: number, blockSize: number, head: Head | undefined): Promise<FileState> {
  const oldest = head?.oldest ?? 0;
  if (seq < oldest) {
    throw new BlockVfsError('not-found', `commit ${seq} of "${name}" is no longer kept: the oldest that can be opened is ${oldest}`, {
      source: SOURCE,
      store: store.name,
    });
  }
  const from = (head?.checkpoints ?? []).filter((c) => c <= seq).pop() ?? 0;
  const state = from > 0 ? await readCheckpointState(store, name, from) : emptyState(blockSize);
  if (!state) {
    // A collection running now may have removed it (the head then no longer lists it); else it is damage.
    const now = await readHead(store, name);
    const listed = now?.checkpoints.includes(from) ?? false;
    throw new BlockVfsError(
      listed ? 'permanent' : 'transient',
      listed
        ? `"${name}" is damaged: checkpoint ${from} (object "${atomicCheckpointKey(name, from)}"), which its head lists, is missing`
        : `checkpoint ${from} of "${name}" was collected by a garbage collection running at the same time; try again`,
      { source: SOURCE, store: store.name },
    );
  }
  await catchUp(store, name, state, seq);
  if (state.seq !== seq) {
    const missing = state.seq + 1;
    if ((await firstRecordAfter(store, name, missing)) !== undefined) throw await missingRecord(store, name, missing);
    throw new BlockVfsError('not-found', `commit ${seq} of "${name}" does not exist (the newest is ${state.seq})`, { source: SOURCE, store: store.name });
  }
  return state;
}

export interface LoadLatestOptions {
  /** The block size of a file with no commit yet. */
  blockSize: number;
  /** The state the caller already knows: the result is never older (a reload never goes back). */
  known?: FileState;
  /** Told the head as first read (before anything else is fetched). */
  onFirstHead?: (head: Head | undefined) => void;
}

/**
 * The newest state: the head's checkpoint, then the records after it. Then what the
 * catch-up's end means is settled, by looking at the head again and listing for a
 * record past the first missing one (both at once: one round trip):
 *
 * - the head names a checkpoint past what was reached: a garbage collection ran
 *   meanwhile and may have removed records the catch-up needed: start over from it;
 *   if it is the very checkpoint found missing, the history cannot be rebuilt: damage;
 * - a later record exists while the missing one is still missing (and the head does
 *   not explain it): a gap in the history, which is damage and never the end of it
 *   (a writer re-creating the missing record would replay later ones on top of it).
 *
 * Damage is a `permanent` error naming the missing object. Returns the state with the
 * head as last read.
 */
export async function loadLatest(store: BlockStore, name: string, options: LoadLatestOptions): Promise<{ state: FileState; head: Head | undefined }> {
  let head = await readHead(store, name);
  options.onFirstHead?.(head);
  let { state, missing } = await stateFrom(store, name, head, options);
  for (let attempt = 1; ; attempt++) {
    const from = state.seq;
    await catchUp(store, name, state);
    const next = state.seq + 1;
    const [again, later] = await Promise.all([readHead(store, name), firstRecordAfter(store, name, next)]);
    // A collection moved the head past us, or its `oldest` past where this catch-up began: records at or
    // below `oldest` may have been removed, or re-created by a create-if-absent PUT that landed late; start
    // over from its checkpoint.
    let moved = again && (again.checkpoint > state.seq || again.oldest > from) ? again : undefined;
    if (!moved && later !== undefined) {
      if (await readRecord(store, name, next)) {
        checkMoving(store, name, attempt);
        continue; // created since our look: catch up again
      }
      // Still missing with a later record present. A collection deletes records only after moving the head past them.
      const now = await readHead(store, name);
      moved = now && now.checkpoint > state.seq ? now : undefined;
      if (!moved) {
        throw new BlockVfsError(
          'permanent',
          `"${name}" is damaged: commit record "${atomicCommitKey(name, next)}" is missing, but later ones exist (from "${atomicCommitKey(name, later)}"): ` +
            `a gap in its history (a record deleted by hand or by a lifecycle rule, or lost in a copy). Restore the missing record, ` +
            `or open it asOf ${next - 1} to copy out the last state before the gap`,
          { source: SOURCE, store: store.name },
        );
      }
    }
    if (!moved) return { state, head: again };
    if (moved.checkpoint === missing) {
      throw new BlockVfsError(
        'permanent',
        `"${name}" is damaged: its head names checkpoint ${missing} (object "${atomicCheckpointKey(name, missing)}"), which is missing, ` +
          `and the commits up to it cannot be rebuilt from the log: record "${atomicCommitKey(name, next)}" is missing too. ` +
          `Restore the missing objects, or open it asOf ${state.seq > 0 ? state.seq : 'an older commit'} to copy out what remains`,
        { source: SOURCE, store: store.name },
      );
    }
    checkMoving(store, name, attempt);
    head = moved;
    ({ state, missing } = await stateFrom(store, name, head, options));
  }
}

/**
 * The state to catch up from: the head's checkpoint, never behind `options.known`. A
 * head naming a checkpoint that is gone (deleted by hand) falls back on the newest that
 * remains, found by the layout's one listing outside garbage collection; `missing` then
 * names the checkpoint that was not found.
 */
async function stateFrom(
  store: BlockStore,
  name: string,
  head: Head | undefined,
  options: LoadLatestOptions,
): Promise<{ state: FileState; missing: number | undefined }> {
  let state = emptyState(options.known?.blockSize ?? options.blockSize);
  let missing: number | undefined;
  if (head && head.checkpoint > 0) {
    let loaded = await readCheckpointState(store, name, head.checkpoint);
    if (!loaded) {
      missing = head.checkpoint;
      const fallback = await newestListedCheckpoint(store, name);
      loaded = fallback > 0 ? await readCheckpointState(store, name, fallback) : undefined;
      // With none left, the log from commit 1 is the history, unless a collection removed its start.
      if (!loaded && head.oldest > 0) {
        throw new BlockVfsError(
          'permanent',
          `"${name}" is damaged: no checkpoint of it can be read (the head names ${head.checkpoint}, object "${atomicCheckpointKey(name, head.checkpoint)}"), and commits up to ${head.oldest} were collected`,
          { source: SOURCE, store: store.name },
        );
      }
    }
    if (loaded) state = loaded;
  }
  const known = options.known;
  if (known && state.seq < known.seq) state = copyState(known);
  return { state, missing };
}

/** Gives up, for now, on a history that kept changing under a load (`transient`: another try will do). */
function checkMoving(store: BlockStore, name: string, attempt: number): void {
  if (attempt >= 4)
    throw new BlockVfsError('transient', `the history of "${name}" kept moving while it was read; try again`, { source: SOURCE, store: store.name });
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
  if (!record) throw await missingRecord(store, name, seq);
  return record.time;
}

/**
 * Why record `seq`, which history says exists (newer than the oldest kept commit, older
 * than the newest), is missing: a collection running at the same time moved the head
 * past it (`transient`: try again), or the history has a gap (`permanent`: no retry
 * mends it).
 */
export async function missingRecord(store: BlockStore, name: string, seq: number): Promise<BlockVfsError> {
  const head = await readHead(store, name);
  if (head && head.oldest >= seq) {
    return new BlockVfsError('transient', `commit ${seq} of "${name}" was collected by another garbage collection running at the same time; try again`, {
      source: SOURCE,
      store: store.name,
    });
  }
  return new BlockVfsError(
    'permanent',
    `"${name}" is damaged: commit record "${atomicCommitKey(name, seq)}" is missing, but later ones exist: a gap in its history, Restore the missing record`,
    { source: SOURCE, store: store.name },
  );
}

/**
 * Blocks per segment of a checkpoint of `blocks` blocks (undefined: not segmented, the
 * map in the checkpoint itself); `minimum` is the smallest segment and the largest
 * file kept whole.
 */
export function segmentBlocksFor(blocks: number, minimum = segmentMinimum): number | undefined {
  return blocks <= minimum ? undefined : Math.max(minimum, Math.ceil(blocks / MAX_SEGMENTS));
}

/**
 * Writes checkpoint `state.seq`: first every block still held inline as its block
 * object (the key it would have had, the same bytes: idempotent), then, for a large
 * file, its segments (each the same bytes whoever writes it), then the checkpoint with
 * create-if-absent (one that exists already holds the same map: accepted). The
 * checkpoint is written last: it exists only once everything it names does. Blocks
 * go through `blocks` (a cached view of `store`, say). Loads the whole map first, then
 * writes the state as it is then (a commit applied meanwhile goes into a later
 * checkpoint). Returns that state's seq, and the entries that replace the folded inline
 * ones (block objects now, with their checksums).
 */
export async function writeCheckpoint(
  store: BlockStore,
  name: string,
  state: FileState,
  blocks: BlockStore = store,
  minimum = segmentMinimum,
): Promise<{ seq: number; folded: Array<[number, BlockEntry]> }> {
  await loadWholeMap(state);
  // Taken together, with no await between: the map and the commit it is of.
  const { seq, time, size, blockSize } = state;
  const all = state.map.entries();
  const inline = all.filter(([, entry]) => entry.inline !== undefined);
  const folded = inline.map(([index, entry]): [number, BlockEntry] => [index, { seq: entry.seq, tag: entry.tag, crc: crc32c(entry.inline as Uint8Array) }]);
  await forEachLimit(inline, PARALLEL_REQUESTS, async ([index, entry]) => {
    await blocks.put(atomicBlockKey(name, index, entry.seq, entry.tag), entry.inline as Uint8Array);
  });
  const foldedMap = new Map(folded);
  const entries = all.map(([index, entry]): [number, CheckpointEntry] => [index, foldedMap.get(index) ?? { seq: entry.seq, tag: entry.tag, crc: entry.crc }]);
  const count = blockCount(size, blockSize);
  const segmentBlocks = segmentBlocksFor(count, minimum);
  if (segmentBlocks !== undefined) {
    // Entries are ascending by index: each segment's are one slice of them.
    const parts = Array.from({ length: segmentCount(size, blockSize, segmentBlocks) }, () => [] as Array<[number, CheckpointEntry]>);
    for (const entry of entries) parts[Math.floor(entry[0] / segmentBlocks)]?.push(entry);
    await forEachLimit(parts.keys(), PARALLEL_REQUESTS, async (segment) => {
      const first = segment * segmentBlocks;
      const body = encodeSegment(seq, segment, first, Math.min(segmentBlocks, count - first), parts[segment] as Array<[number, CheckpointEntry]>);
      await store.put(atomicSegmentKey(name, seq, segmentBlocks, segment), body);
    });
  }
  const hot = segmentBlocks === undefined ? [] : entries.filter(([index]) => state.hot.has(index)).slice(0, MAX_HOT_ENTRIES);
  const body = encodeCheckpoint({
    seq,
    time,
    size,
    blockSize,
    map: segmentBlocks === undefined ? new Map(entries) : undefined,
    segmentBlocks,
    hot: new Map(hot),
  });
  try {
    await store.put(atomicCheckpointKey(name, seq), body, store.capabilities.conditionalPut ? { ifNoneMatch: '*' } : undefined);
  } catch (error) {
    if (!isBlockVfsError(error, 'precondition-failed')) throw error;
  }
  return { seq, folded };
}
