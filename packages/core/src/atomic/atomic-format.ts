import type { BlockStore } from '../block-store.js';
import { blockSizeProblem, storeProblem } from '../argument-checks.js';
import { isClock, systemClock, type Clock } from '../clock.js';
import { forEachLimit } from '../concurrency.js';
import { directBlockKey } from '../direct-format.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { blockCount, blockLength, type FileChange, type FileFormat } from '../file-format.js';
import { isCachedStore, withCache, type CachedStore } from '../layers/cache.js';
import { crc32c } from '../checksum.js';
import { holdsInteriorPage, sqlitePageSize } from '../interior-pages.js';
import { isSqliteObject, sqliteObjectError, WrongLayoutError } from '../stored-database.js';
import {
  applyRecord,
  catchUp,
  commitAtOrBefore,
  emptyState,
  firstRecordAfter,
  loadLatest,
  applyRecords,
  readHead,
  recordsAfter,
  readRecord,
  stateAt,
  updateHead,
  writeCheckpoint,
  type BlockEntry,
  type FileState,
  type HeadWithEtag,
} from './history.js';
import { BlockReader, type BlockCheck, type BlockObject } from './block-reader.js';
import { BackgroundCollector, type BackgroundCollectionOptions } from './background-collector.js';
import { WriterLease, type LeaseOptions } from './lease.js';
import { VIEW_TRUST_MS } from './view-trust.js';
import { atomicBlockKey, atomicCommitKey, encodeRecord, randomTag, type BlockRef, type CommitRecord, type Head } from './objects.js';

/**
 * The atomic layout (docs/atomic-format.md): immutable block objects, one commit
 * record per sequence number created with create-if-absent, checkpoints (full block
 * maps) and a head that lists them. A commit is invisible until its record exists and
 * wholly visible after; two writers on the same base cannot both create the next
 * record, so the loser gets `precondition-failed` and nothing of its commit is visible.
 */

const SOURCE = '@blockvfs/core';
/**
 * Parallel block uploads per commit. Block objects of a commit are new keys, so they
 * can all go at once: 128 in flight turns the 273 blocks of a 1 MiB transaction into 3
 * round trips instead of 18 at 16 (bench step a: 0.51 → 0.45 s on the memory store at
 * 20 ms per request; an HTTP client's own socket limit may queue some). The direct
 * layout keeps 16.
 */
const PARALLEL_REQUESTS = 128;

export const DEFAULT_INLINE_LIMIT = 128 * 1024;
export const DEFAULT_CHECKPOINT_EVERY = 100;
/**
 * A commit naming more blocks than this is followed by a checkpoint: its record holds
 * about 18 bytes per block (4096: 72 KiB), which every open would read until the next
 * checkpoint (an import of 2 GB at 64 KiB blocks: 549 KiB).
 */
const LARGE_COMMIT_BLOCKS = 4096;
export const DEFAULT_BLOCK_CACHE_BYTES = 32 * 1024 * 1024;
export { VIEW_TRUST_MS };

export interface AtomicFormatOptions {
  /** Block size for a new file; an existing file keeps the one it was written with. */
  blockSize: number;
  /**
   * Allow a store without conditional puts (`capabilities.conditionalPut` false). Only
   * safe when the caller guarantees a single writer: nothing then stops two writers
   * from creating the same commit record.
   */
  singleWriter?: boolean;
  /** A commit whose blocks total at most this many bytes carries them inside its record (one PUT). Default 128 KiB; 0 turns it off. */
  inlineLimit?: number;
  /**
   * Write a checkpoint after this many commits since the last one, and after a commit
   * that names more than 4096 blocks (the next open then reads the checkpoint, not that
   * large record). 0: only when `checkpoint()` is called. Default 100.
   */
  checkpointEvery?: number;
  /**
   * A checkpoint of a file of more blocks than this is segmented: its block map in
   * segments of at least this many blocks, each loaded when first needed, so that an
   * open reads a few KiB of map whatever the file's size. Default 1024.
   */
  checkpointSegmentBlocks?: number;
  /** Bytes of block objects kept in memory (they never change, so a copy is never stale). Default 32 MiB; 0 keeps none. */
  cacheBytes?: number;
  /**
   * A cache of the store's objects to read and write block objects through, shared with
   * other files (the VFS keeps one per store for the whole process, so that it outlives
   * any one connection). Given, it replaces the cache `cacheBytes` would make.
   */
  blockCache?: CachedStore;
  /**
   * How stale a read may be, in ms: `refresh()` looks for other writers' commits (one
   * GET) only when the last look is older than this. Default 0: every time.
   */
  freshnessMs?: number;
  /** Hold a writer lease (see WriterLease): taken at the first write, renewed while writing, released at close. */
  lease?: LeaseOptions | boolean;
  /** Open the file as it was after this commit (a seq), or at this time (the newest commit at or before it): read-only. */
  asOf?: number | Date;
  /** Where time comes from: commit times, the lease, freshness and the view's trust window (default the system clock). */
  clock?: Clock;
  /**
   * Collect garbage in the background after commits (see BackgroundCollector), keeping
   * `retentionMs` of history. Default none: the file's history is kept until
   * collectGarbage is called. openDatabase turns it on.
   */
  collect?: BackgroundCollectionOptions;
  /** Told about each commit this file made, once its record exists (for logs and metrics; a listener that throws is ignored). */
  onCommit?: (event: CommitEvent) => void;
}

/** A commit this file made. */
export interface CommitEvent {
  /** The file's name on the store. */
  name: string;
  seq: number;
  /** The commit's time (ms since the epoch, on the format's clock). */
  time: number;
  /** The file's size after it. */
  size: number;
  /** Blocks it wrote (uploaded ahead, or carried inside the record). */
  blocks: number;
  /** Bytes of the blocks commit() itself wrote (blocks uploaded ahead were counted when they went up, not here). */
  bytes: number;
  /** Whether the blocks travelled inside the record (one PUT in all). */
  inline: boolean;
  /** Milliseconds from the start of commit() to the record's creation, on the format's clock. */
  ms: number;
}

/** The blocks of the commit being prepared that were uploaded ahead of it (a transaction larger than memory). */
interface Attempt {
  seq: number;
  tag: string;
  /** Block index → CRC-32C of the object uploaded. */
  staged: Map<number, number>;
}

export class AtomicFormat implements FileFormat {
  readonly flushesEarly = false;
  readonly store: BlockStore;
  readonly name: string;
  #state: FileState;
  /** Where block objects are written: through the cache, when there is one (keys are never reused for other bytes). */
  readonly #blocks: BlockStore;
  /** The block last answered from the cache, by its map entry (entries are replaced, never changed, by a commit). */
  #lastHeld: { entry: object; bytes: Uint8Array } | undefined;
  /** The block cache, when there is one: reads it can answer need no request. */
  readonly #cache: CachedStore['cache'] | undefined;
  /** Reads of block objects: one request per key at a time, and read-ahead for scans. */
  readonly #reader: BlockReader;
  #head: HeadWithEtag | undefined;
  #attempt: Attempt | undefined;
  /** When this view was last confirmed current (see VIEW_TRUST_MS); 0: never. */
  #confirmedAt = 0;
  /** A commit lost to another writer since the last real refresh: the next refresh must look. */
  #stale = false;
  /** The refresh under way, if any (see #refreshNow). */
  #refreshing: Promise<boolean> | undefined;
  readonly #inlineLimit: number;
  readonly #checkpointEvery: number;
  readonly #segmentBlocks: number | undefined;
  readonly #freshness: number;
  readonly #conditional: boolean;
  readonly #lease: WriterLease | undefined;
  readonly #clock: Clock;
  readonly #collector: BackgroundCollector | undefined;
  readonly #onCommit: ((event: CommitEvent) => void) | undefined;
  /** The commit this file was opened at, when opened with `asOf` (read-only). */
  readonly pinned: number | undefined;
  /** The file's SQLite page size, from the last block 0 read or written (see #notePages). */
  #pageSize: number | undefined;

  private constructor(store: BlockStore, name: string, state: FileState, options: AtomicFormatOptions, pinned: number | undefined) {
    this.store = store;
    this.name = name;
    this.#state = state;
    this.pinned = pinned;
    this.#inlineLimit = options.inlineLimit ?? DEFAULT_INLINE_LIMIT;
    this.#checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.#segmentBlocks = options.checkpointSegmentBlocks;
    this.#freshness = options.freshnessMs ?? 0;
    this.#conditional = store.capabilities.conditionalPut;
    this.#clock = options.clock ?? systemClock;
    const cacheBytes = options.cacheBytes ?? DEFAULT_BLOCK_CACHE_BYTES;
    const cached = options.blockCache ?? (cacheBytes > 0 ? withCache(store, { maxBytes: cacheBytes }) : undefined);
    this.#blocks = cached ?? store;
    this.#cache = cached?.cache;
    this.#reader = new BlockReader(store, cached?.cache);
    const lease = options.lease === true ? {} : options.lease || undefined;
    this.#lease = lease && pinned === undefined ? new WriterLease(store, name, lease, this.#clock) : undefined;
    this.#onCommit = options.onCommit;
    this.#collector = options.collect && pinned === undefined ? new BackgroundCollector(store, name, this.#clock, options.collect) : undefined;
  }

  /**
   * Opens file `name`: the head, the checkpoint it names, then the commit records after
   * that checkpoint, never the whole history; one listing past the last record, beside
   * the head's second read, tells the end of history from a gap (see loadLatest).
   */
  static async open(store: BlockStore, name: string, options: AtomicFormatOptions): Promise<AtomicFormat> {
    checkOptions(store, name, options);
    if (options.asOf !== undefined) {
      const state = await loadAsOf(store, name, options.blockSize, options.asOf);
      return new AtomicFormat(store, name, state, options, state.seq);
    }
    const format = new AtomicFormat(store, name, emptyState(options.blockSize), options, undefined);
    // With no head (a new or young database), what else may sit under the name (a
    // direct-layout file, an SQLite file stored as one object) is asked alongside the
    // rest of the load: one round trip less to create a database.
    const probeOthers = () => Promise.all([store.get(directBlockKey(name, 0), { offset: 0, length: 1 }), isSqliteObject(store, name)]);
    let probe: ReturnType<typeof probeOthers> | undefined;
    await format.#loadLatest((head) => {
      if (!head) {
        probe = probeOthers();
        probe.catch(() => undefined); // awaited below when needed; never an unhandled rejection meanwhile
      }
    });
    if (format.#state.seq > 0) return format;
    const [direct, sqliteObject] = await (probe ?? probeOthers());
    if (direct !== undefined) {
      throw new WrongLayoutError(
        'direct',
        `"${name}" holds a direct-layout database (object "${directBlockKey(name, 0)}"); open it with layout "direct"`,
        store.name,
      );
    }
    if (sqliteObject) throw sqliteObjectError(store, name);
    return format;
  }

  get blockSize(): number {
    return this.#state.blockSize;
  }

  get size(): number {
    return this.#state.size;
  }

  /** The sequence number of the commit this format shows (0: no commit yet). */
  get seq(): number {
    return this.#state.seq;
  }

  /** The view's version for PagedFile (see FileFormat.version): the commit's seq, since history is linear and never rewritten. */
  get version(): number {
    return this.#state.seq;
  }

  /** The time of that commit (ms since the epoch, by its writer's clock; 0 for none). */
  get commitTime(): number {
    return this.#state.time;
  }

  /** The sequence number of the newest checkpoint this format knows of (0: none). */
  get checkpointSeq(): number {
    return this.#head?.head?.checkpoint ?? 0;
  }

  /** The writer lease, when this format was opened with one. */
  get lease(): WriterLease | undefined {
    return this.#lease;
  }

  async readBlock(index: number): Promise<Uint8Array | undefined> {
    const staged = this.#attempt?.staged.get(index);
    if (staged !== undefined && this.#attempt) {
      const key = atomicBlockKey(this.name, index, this.#attempt.seq, this.#attempt.tag);
      return this.#mustGet(
        { key, check: this.#checkOf(key, index, this.#state.blockSize, staged, this.#attempt.seq) },
        'a block this transaction uploaded ahead of its commit',
      );
    }
    const entry = this.#state.map.known(index) ? this.#state.map.get(index) : await this.#entryOf(index);
    if (!entry) return undefined;
    if (entry.inline) {
      this.#notePages(index, entry.inline);
      return entry.inline.slice(); // callers may keep it; ours must stay unchanged
    }
    this.#noteRead(index);
    const bytes = await this.#mustGet(this.#objectOf(index, entry), `block ${index} of commit ${entry.seq}`);
    this.#notePages(index, bytes);
    return bytes;
  }

  /**
   * Notes whether block `index` holds a B-tree interior page, from its bytes, read from
   * the store or written (interior-pages.ts): a segmented checkpoint copies those blocks'
   * entries into its root, so that a cold lookup loads no segment before its leaf's.
   * Blocks answered from the cache are not looked at again (the hot path).
   */
  #notePages(index: number, bytes: Uint8Array): void {
    if (index === 0) this.#pageSize = sqlitePageSize(bytes) ?? this.#pageSize;
    if (this.#pageSize === undefined) return;
    const interior = holdsInteriorPage(bytes, index, this.#state.blockSize, this.#pageSize);
    if (interior === true) this.#state.hot.add(index);
    else if (interior === false) this.#state.hot.delete(index);
  }

  /** Block `index` from memory: held inline, or its object in the block cache (see FileFormat.readBlockInMemory). */
  readBlockInMemory(index: number): Uint8Array | null | undefined {
    if (this.#attempt?.staged.has(index)) return undefined;
    if (!this.#state.map.known(index)) return undefined; // its checkpoint segment is still to load
    const entry = this.#state.map.get(index);
    if (!entry) return null;
    if (entry.inline) return entry.inline;
    // SQLite reads the change counter in block 0 at every transaction: the same block, again and again.
    if (this.#lastHeld?.entry === entry) return this.#lastHeld.bytes;
    // What the cache holds was checked when fetched (BlockReader), or written by this process.
    const bytes = this.#cache?.held(atomicBlockKey(this.name, index, entry.seq, entry.tag));
    if (!bytes) return undefined;
    this.#lastHeld = { entry, bytes };
    // Noted like a read from the store, so that a scan that reaches uncached blocks finds them being fetched ahead.
    this.#noteRead(index);
    return bytes;
  }

  /** Block `index`'s entry in the current state, its checkpoint segment loaded first (callers look first whether it is known: no await then). */
  async #entryOf(index: number): Promise<BlockEntry | undefined> {
    // The state may be swapped by a reload while a segment loads: look again in the one in force.
    while (!this.#state.map.known(index)) await this.#state.map.load(index, this.#state.seq);
    return this.#state.map.get(index);
  }

  /** Block `index`'s object in the current state, with the check of its bytes. */
  #objectOf(index: number, entry: BlockEntry): BlockObject {
    const key = atomicBlockKey(this.name, index, entry.seq, entry.tag);
    return { key, check: this.#checkOf(key, index, blockLength(index, this.#state.size, this.#state.blockSize), entry.crc, entry.seq) };
  }

  /**
   * The check of a block object's bytes: its exact length (every object holds its block
   * trimmed to the file's size, see `#resized`) and, for objects written under format
   * version 2, the CRC-32C its commit recorded. A mismatch is damage: a `permanent`
   * error naming the object.
   */
  #checkOf(key: string, index: number, length: number, crc: number | undefined, seq: number): BlockCheck {
    return (bytes) => {
      let problem: string | undefined;
      if (bytes.length !== length) problem = `it has ${bytes.length} bytes, but block ${index} has ${length}`;
      else if (crc !== undefined && crc32c(bytes) !== crc)
        problem = `its CRC-32C is ${crc32c(bytes).toString(16).padStart(8, '0')}, but commit ${seq} recorded ${crc.toString(16).padStart(8, '0')}`;
      if (problem === undefined) return;
      throw new BlockVfsError(
        'permanent',
        `block object "${key}" of "${this.name}" is damaged: ${problem} (cut short, overwritten or corrupted on the store)`,
        {
          source: SOURCE,
          store: this.store.name,
        },
      );
    };
  }

  /** Tells the reader that block `index` is being read, so that a scan's next blocks are fetched ahead. */
  #noteRead(index: number): void {
    this.#reader.noteRead(index, blockCount(this.#state.size, this.#state.blockSize), (next) => {
      const { map, seq } = this.#state;
      if (!map.known(next)) {
        map.load(next, seq).catch(() => undefined); // for the reads to come; the read that needs it meets a failure again
        return undefined;
      }
      const entry = map.get(next);
      return entry && !entry.inline ? this.#objectOf(next, entry) : undefined; // none: absent, or held inline
    });
  }

  /**
   * Called before a transaction writes: with a writer lease, takes or renews it, and
   * rejects with `precondition-failed` when another writer holds it.
   */
  async beginWrite(): Promise<void> {
    this.#checkWritable();
    await this.#lease?.ensure();
  }

  /** Whether `beginWrite()` has work to do: a lease to take or renew, or the refusal of a pinned (read-only) view. */
  beginWriteNeeded(): boolean {
    return this.pinned !== undefined || (this.#lease !== undefined && !this.#lease.current);
  }

  /**
   * Uploads blocks of the coming commit now, so that they need not stay in memory
   * (a transaction larger than memory). They are invisible until the commit's record
   * names them; `discard()` or a failed commit leaves them as garbage.
   */
  async stage(blocks: ReadonlyMap<number, Uint8Array>): Promise<void> {
    this.#checkWritable();
    this.#attempt ??= { seq: this.#state.seq + 1, tag: randomTag(), staged: new Map() };
    const attempt = this.#attempt;
    // Ascending, so block 0 comes first: it gives the page size the others are read with.
    const ascending = [...blocks].sort(([a], [b]) => a - b);
    for (const [index, data] of ascending) this.#notePages(index, data);
    await forEachLimit(ascending, PARALLEL_REQUESTS, async ([index, data]) => {
      await this.#blocks.put(atomicBlockKey(this.name, index, attempt.seq, attempt.tag), data);
      attempt.staged.set(index, crc32c(data));
    });
  }

  /** Forgets the commit being prepared (its staged blocks become garbage). */
  discard(): void {
    this.#attempt = undefined;
  }

  /**
   * Commits `change` (plus the staged blocks) as commit `seq + 1`: uploads its blocks
   * as new immutable objects in parallel (or carries them inline when small), then
   * creates the commit record with create-if-absent. If another writer created that
   * record first, rejects with `precondition-failed` and changes nothing here.
   * On any failure the staged blocks are forgotten.
   */
  async commit(change: FileChange): Promise<void> {
    const began = this.#clock.now();
    const attempt = this.#attempt;
    this.#attempt = undefined;
    this.#checkWritable();
    await this.#lease?.ensure();
    if (this.#clock.now() - this.#confirmedAt > VIEW_TRUST_MS && (await this.#refreshNow())) {
      throw this.#conflict(this.#state.seq, 'while this transaction ran');
    }
    const bs = this.#state.blockSize;
    const seq = this.#state.seq + 1;
    if (attempt && attempt.seq !== seq) throw this.#conflict(seq, 'while this transaction ran');
    const tag = attempt?.tag ?? randomTag();
    const count = blockCount(change.size, bs);
    const changed = new Map([...change.blocks, ...(await this.#resized(change, attempt))]);
    const written = [...changed]
      .filter(([index]) => index < count)
      .sort(([a], [b]) => a - b)
      .map(([index, data]): [number, Uint8Array] => {
        const length = blockLength(index, change.size, bs);
        return [index, data.length === length ? data : data.subarray(0, length)];
      });
    const staged = [...(attempt?.staged ?? [])].filter(([index]) => index < count && !changed.has(index));
    for (const [index, data] of written) this.#notePages(index, data); // ascending: block 0 first
    const bytes = written.reduce((sum, [, data]) => sum + data.length, 0);
    const inline = staged.length === 0 && bytes <= this.#inlineLimit;
    if (!inline) {
      await forEachLimit(written, PARALLEL_REQUESTS, async ([index, data]) => {
        // A copy: the caller may change its buffer once the commit settles (FileFormat.commit).
        await this.#blocks.put(atomicBlockKey(this.name, index, seq, tag), data.slice());
      });
    }
    const blocks: BlockRef[] = inline
      ? []
      : [...written.map(([index, data]) => ({ index, crc: crc32c(data) })), ...staged.map(([index, crc]) => ({ index, crc }))].sort(
          (a, b) => a.index - b.index,
        );
    const record: CommitRecord = {
      seq,
      tag,
      // Never earlier than the commit before, whatever the clocks: time travel bisects on it.
      time: Math.max(this.#clock.now(), this.#state.time),
      size: change.size,
      blockSize: bs,
      blocks,
      inline: inline ? written : [],
    };
    const encoded = encodeRecord(record);
    const started = this.#clock.now();
    try {
      await this.#createRecord(record, encoded.bytes);
    } catch (error) {
      this.#stale = true; // lost, or an unknown outcome: the next refresh must look, whatever the freshness
      if (isBlockVfsError(error, 'precondition-failed') && record.blocks.length > 0) {
        // Lost for certain: no record will ever name these objects. (After an unknown outcome they stay: they may be named.)
        await this.store.delete(record.blocks.map(({ index }) => atomicBlockKey(this.name, index, seq, tag))).catch(() => undefined);
      }
      throw error;
    }
    // The map keeps the record's own copies of its inline blocks: the caller may reuse its buffers.
    applyRecord(this.#state, { ...record, inline: encoded.inline });
    this.#confirmedAt = started;
    this.#tellCommit(record, written.length + staged.length, bytes, inline, began);
    const large = record.blocks.length > LARGE_COMMIT_BLOCKS;
    if (this.#checkpointEvery > 0 && (large || this.#state.seq - this.checkpointSeq >= this.#checkpointEvery)) {
      // The commit is durable already; a failed checkpoint only means a longer open, and the next commit tries again.
      await this.checkpoint().catch(() => undefined);
    }
    this.#collector?.afterCommit(); // starts a collection when one is due, and does not wait for it
  }

  /**
   * Blocks whose stored length the change's new size alters although the change does
   * not rewrite them (the old partial last block of a growing file, the new partial
   * last block of a shrinking one), read and resized: every block object then holds
   * exactly `blockLength(index, size)` bytes in every commit that names it, which is
   * what reads check. PagedFile always rewrites them itself, so this reads nothing for
   * it; a caller of the format alone may not.
   */
  async #resized(change: FileChange, attempt: Attempt | undefined): Promise<Map<number, Uint8Array>> {
    const { size: oldSize, blockSize: bs } = this.#state;
    const resized = new Map<number, Uint8Array>();
    for (const index of new Set([Math.floor(oldSize / bs), Math.floor(change.size / bs)])) {
      const after = blockLength(index, change.size, bs);
      if (change.blocks.has(index) || after === 0) continue;
      const staged = attempt?.staged.get(index);
      let stored: Uint8Array | undefined;
      if (staged !== undefined && attempt) {
        // Uploaded ahead as a whole block: right as it is, unless the file now ends inside it.
        if (after === bs) continue;
        const key = atomicBlockKey(this.name, index, attempt.seq, attempt.tag);
        stored = await this.#mustGet(
          { key, check: this.#checkOf(key, index, bs, staged, attempt.seq) },
          'a block this transaction uploaded ahead of its commit',
        );
      } else {
        // Its length unchanged (the common case: a commit that keeps the size): no entry to look up, so no segment to load.
        if (blockLength(index, oldSize, bs) === after) continue;
        const entry = this.#state.map.known(index) ? this.#state.map.get(index) : await this.#entryOf(index);
        if (entry === undefined) continue;
        stored = (await this.readBlock(index)) ?? new Uint8Array(0);
      }
      const block = new Uint8Array(bs);
      block.set(stored.subarray(0, Math.min(stored.length, after)));
      resized.set(index, block);
    }
    return resized;
  }

  /**
   * Picks up commits made by other writers since the one this format shows: one GET
   * when there are none. Skipped (no request) within the `freshnessMs` interval, and
   * while this process holds the writer lease (other writers that use leases cannot
   * commit then). Returns whether anything changed.
   */
  async refresh(): Promise<boolean> {
    return this.refreshNeeded() ? this.#refreshNow() : false;
  }

  /** Whether `refresh()` would ask the store now: not for a pinned view, nor within `freshnessMs` or a held lease. */
  refreshNeeded(): boolean {
    if (this.pinned !== undefined) return false;
    if (this.#stale) return true;
    const since = this.#lease?.heldSince;
    if (since !== undefined && this.#confirmedAt >= since && this.#clock.now() - this.#confirmedAt <= VIEW_TRUST_MS) return false;
    if (this.#freshness > 0 && this.#clock.now() - this.#confirmedAt < this.#freshness) return false;
    return true;
  }

  /**
   * Writes a checkpoint of the current state: folds inline blocks into block objects,
   * writes `checkpoint/<seq>` (the full block map, or for a large file its segments
   * first), then adds it to the head.
   * Interrupted anywhere, it leaves only unreferenced objects or a head that does not
   * list it yet: both harmless.
   */
  async checkpoint(): Promise<void> {
    const state = this.#state;
    const { seq } = state;
    if (seq === 0 || seq === this.checkpointSeq) return;
    if (this.#clock.now() - this.#confirmedAt > VIEW_TRUST_MS) {
      // An old view may be older than what the store keeps (idle past a collection): its blocks may
      // be gone, so it is no checkpoint to write. (A view confirmed within the minute never is: §8.)
      const head = await readHead(this.store, this.name);
      if (head && head.oldest > seq) return;
    }
    // Of the state once its map is loaded: a commit may land while segments load.
    const { seq: written, folded } = await writeCheckpoint(this.store, this.name, state, this.#blocks, this.#segmentBlocks);
    this.#head = await updateHead(this.store, this.name, (head) => withCheckpoint(head, written, state.blockSize), this.#head);
    for (const [index, entry] of folded) {
      // Only if no later commit replaced it meanwhile (calls do not overlap today, but cheaply safe).
      // (A reload meanwhile may have put in a state whose segment for it is not loaded: nothing to replace there.)
      const { map } = this.#state;
      if (map.known(index) && map.get(index)?.seq === entry.seq) map.set(index, entry);
    }
  }

  #tellCommit(record: CommitRecord, blocks: number, bytes: number, inline: boolean, began: number): void {
    if (!this.#onCommit) return;
    const { seq, time, size } = record;
    try {
      this.#onCommit({ name: this.name, seq, time, size, blocks, bytes, inline, ms: this.#clock.now() - began });
    } catch {
      // A broken listener must not turn a durable commit into a failure.
    }
  }

  /** Waits for a background collection in flight, then releases the writer lease, if held. */
  async close(): Promise<void> {
    await this.#collector?.close();
    await this.#lease?.release();
  }

  /**
   * Looks for new commits now. A view older than VIEW_TRUST_MS is also checked against
   * the head (a collection may have removed records it needs) and for records past the
   * end it found (a gap): either sends it through `#loadLatest`, which settles both.
   * On failure the view is where it was, or wholly at a newer commit (catchUp).
   */
  async #refreshNow(): Promise<boolean> {
    // One at a time: two catching up at once would both apply the same records. (A read
    // transaction may leave its look in flight while another starts: see the VFS's speculate.)
    while (this.#refreshing) await this.#refreshing.catch(() => undefined);
    const refreshing = this.#refreshOnce();
    this.#refreshing = refreshing;
    try {
      return await refreshing;
    } finally {
      if (this.#refreshing === refreshing) this.#refreshing = undefined;
    }
  }

  async #refreshOnce(): Promise<boolean> {
    const before = this.#state.seq;
    const started = this.#clock.now();
    if (started - this.#confirmedAt <= VIEW_TRUST_MS) {
      await catchUp(this.store, this.name, this.#state);
    } else {
      // An old view: the records after it are fetched, then checked against the head and a
      // listing before any is applied. A collection may have removed some (the head names
      // a checkpoint past them), and a commit record whose create-if-absent PUT landed late,
      // after the collector freed its seq, may sit at or below the head's `oldest`: records
      // there are never applied; the view reloads from the head's checkpoint instead.
      const records = await recordsAfter(this.store, this.name, before);
      const seq = before + records.length;
      const [head, later] = await Promise.all([readHead(this.store, this.name), firstRecordAfter(this.store, this.name, seq + 1)]);
      if ((head && (head.checkpoint > seq || head.oldest > before)) || later !== undefined) await this.#loadLatest();
      else applyRecords(this.name, this.store.name, this.#state, records);
    }
    this.#confirmedAt = started;
    this.#stale = false;
    return this.#state.seq !== before;
  }

  /** Loads the newest state (see loadLatest) and swaps it in whole; it never goes back. */
  async #loadLatest(onFirstHead?: (head: Head | undefined) => void): Promise<void> {
    const started = this.#clock.now();
    const latest = await loadLatest(this.store, this.name, { blockSize: this.#state.blockSize, known: this.#state, ...(onFirstHead ? { onFirstHead } : {}) });
    this.#state = latest.state;
    this.#head = { head: latest.head, etag: undefined };
    this.#confirmedAt = started;
  }

  /** Creates the record with create-if-absent, and settles an ambiguous outcome by reading it back. */
  async #createRecord(record: CommitRecord, bytes: Uint8Array): Promise<void> {
    const key = atomicCommitKey(this.name, record.seq);
    try {
      await this.store.put(key, bytes, this.#conditional ? { ifNoneMatch: '*' } : undefined);
      return;
    } catch (error) {
      // A lost race, or a request that may have happened (a timeout, a retry layer whose
      // first attempt landed): the record on the store tells which. Only a record with
      // another tag is a loss: even `precondition-failed` may be our own record, when a
      // retry layer's first attempt landed and its answer was lost.
      let existing: CommitRecord | undefined;
      try {
        existing = await readRecord(this.store, this.name, record.seq);
      } catch (readError) {
        throw this.#unknownOutcome(record.seq, error, readError);
      }
      if (existing?.tag === record.tag) return; // it was ours, and it landed
      if (existing) throw this.#conflict(record.seq, 'first', error);
      if (isBlockVfsError(error, 'precondition-failed')) throw this.#unknownOutcome(record.seq, error, undefined);
      throw error; // not there (yet): it may still land; the next refresh finds out
    }
  }

  /** A commit whose record may or may not exist: `transient`, never a loss (its blocks must stay: the record may name them). */
  #unknownOutcome(seq: number, error: unknown, readError: unknown): BlockVfsError {
    const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    return new BlockVfsError(
      'transient',
      `the outcome of commit ${seq} of "${this.name}" is unknown: creating its record failed (${why(error)})` +
        (readError === undefined ? ', yet no record is there' : ` and reading it back failed too (${why(readError)})`) +
        '; the next refresh finds out whether it landed',
      { source: SOURCE, store: this.store.name, cause: error },
    );
  }

  #conflict(seq: number, when: string, cause?: unknown): BlockVfsError {
    this.#stale = true;
    return new BlockVfsError(
      'precondition-failed',
      `another writer committed seq ${seq} of "${this.name}" ${when}; this commit (on top of seq ${seq - 1}) was not applied: refresh and retry`,
      { source: SOURCE, store: this.store.name, ...(cause === undefined ? {} : { cause }) },
    );
  }

  #checkWritable(): void {
    if (this.pinned !== undefined) {
      throw new BlockVfsError('invalid', `"${this.name}" is open as of commit ${this.pinned}, read-only`, { source: SOURCE, store: this.store.name });
    }
  }

  async #mustGet(object: BlockObject, what: string): Promise<Uint8Array> {
    const { key } = object;
    const data = await this.#reader.get(object);
    if (data === undefined) {
      throw new BlockVfsError('permanent', `${what} is missing: object "${key}" was deleted (by hand, or by a garbage collection after its grace period)`, {
        source: SOURCE,
        store: this.store.name,
      });
    }
    return data;
  }
}

/**
 * The head after adding checkpoint `seq` (undefined: it already lists it, or a collection
 * moved `oldest` past it while it was written: garbage then, never listed).
 */
function withCheckpoint(head: Head | undefined, seq: number, blockSize: number): Head | undefined {
  const checkpoints = head?.checkpoints ?? [];
  if (checkpoints.includes(seq) || seq < (head?.oldest ?? 0)) return undefined;
  return {
    checkpoint: Math.max(seq, head?.checkpoint ?? 0),
    checkpoints: [...checkpoints, seq].sort((a, b) => a - b),
    oldest: head?.oldest ?? 0,
    blockSize: head?.blockSize ?? blockSize,
  };
}

function checkOptions(store: BlockStore, name: string, options: AtomicFormatOptions): void {
  const storeIssue = storeProblem(store);
  if (storeIssue) throw new BlockVfsError('invalid', storeIssue, { source: SOURCE });
  const invalid = (message: string): BlockVfsError => new BlockVfsError('invalid', message, { source: SOURCE, store: store.name });
  const count = (value: number | undefined, what: string): void => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw invalid(`${what} must be a non-negative integer, got ${value}`);
  };
  const problem = blockSizeProblem(options.blockSize);
  if (problem) throw invalid(problem);
  if (isCachedStore(store)) {
    throw invalid(
      'the atomic layout cannot use a store wrapped in withCache: its head and writer lease change in place, and a cache that only sees ' +
        "this process's writes would serve them stale (the head going backwards). The layout caches its immutable blocks itself (cacheBytes)",
    );
  }
  count(options.inlineLimit, 'inlineLimit');
  count(options.checkpointEvery, 'checkpointEvery');
  if (options.checkpointSegmentBlocks !== undefined && !(Number.isSafeInteger(options.checkpointSegmentBlocks) && options.checkpointSegmentBlocks >= 1)) {
    throw invalid(`checkpointSegmentBlocks must be a positive integer, got ${options.checkpointSegmentBlocks}`);
  }
  count(options.cacheBytes, 'cacheBytes');
  count(options.freshnessMs, 'freshnessMs');
  count(options.collect?.retentionMs, 'collect.retentionMs');
  if (options.collect?.everyCommits !== undefined && !(Number.isSafeInteger(options.collect.everyCommits) && options.collect.everyCommits >= 1)) {
    throw invalid(`collect.everyCommits must be a positive integer, got ${options.collect.everyCommits}`);
  }
  if (options.clock !== undefined && !isClock(options.clock)) throw invalid('clock must have now() and sleep(ms) functions');
  const { asOf } = options;
  if (asOf !== undefined && !(asOf instanceof Date ? Number.isFinite(asOf.getTime()) : Number.isSafeInteger(asOf) && asOf >= 1)) {
    throw invalid(`asOf must be a commit number (1 or more) or a valid Date, got ${String(asOf)}`);
  }
  if (!store.capabilities.conditionalPut && !options.singleWriter) {
    throw invalid(
      `the atomic layout needs a store with conditional puts (create-if-absent) to keep two writers from corrupting "${name}", ` +
        `and this store has none; use a store that supports them, or pass singleWriter: true if only one writer can ever exist`,
    );
  }
}

/** The state as of a commit number, or as of a time (the newest commit at or before it). */
async function loadAsOf(store: BlockStore, name: string, blockSize: number, asOf: number | Date): Promise<FileState> {
  const head = await readHead(store, name);
  if (typeof asOf === 'number') return stateAt(store, name, asOf, blockSize, head);
  const latest = (await loadLatest(store, name, { blockSize })).state;
  if (latest.seq === 0) throw new BlockVfsError('not-found', `"${name}" has no commits`, { source: SOURCE, store: store.name });
  const seq = await commitAtOrBefore(store, name, latest, head, asOf.getTime());
  if (seq === undefined) {
    const oldest = Math.max(1, head?.oldest ?? 0);
    throw new BlockVfsError(
      'not-found',
      `"${name}" has no commit at or before ${asOf.toISOString()} that is still kept (the oldest kept is commit ${oldest})`,
      {
        source: SOURCE,
        store: store.name,
      },
    );
  }
  return seq === latest.seq ? latest : stateAt(store, name, seq, blockSize, head);
}
