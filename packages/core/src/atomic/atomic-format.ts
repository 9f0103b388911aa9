import type { BlockStore } from '../block-store.js';
import { forEachLimit } from '../concurrency.js';
import { directBlockKey } from '../direct-format.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { blockCount, blockLength, type FileChange, type FileFormat } from '../file-format.js';
import { KIND_CHECKPOINT, KIND_COMMIT, KIND_HEAD, decodeObject, encodeObject } from './encoding.js';

/**
 * The atomic layout (docs/atomic-format.md): immutable block objects, one commit
 * record per sequence number created with create-if-absent, checkpoints (full block
 * maps) and a head hint that points at the latest checkpoint. A commit is invisible
 * until its record exists and wholly visible after; two writers on the same base
 * cannot both create the next record, so the loser gets `precondition-failed` and
 * nothing of its commit is visible.
 */

const SOURCE = '@blockvfs/core';
const SEQ_DIGITS = 12;
const INDEX_DIGITS = 10;
/** Parallel block uploads per commit or checkpoint (as the direct layout). */
const PARALLEL_REQUESTS = 16;
/** The most commit records fetched at once while catching up (the window doubles from 1). */
const MAX_PROBE_WINDOW = 16;

export const DEFAULT_INLINE_LIMIT = 128 * 1024;
export const DEFAULT_CHECKPOINT_EVERY = 100;

export function atomicCommitKey(name: string, seq: number): string {
  return `${name}/log/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

export function atomicCheckpointKey(name: string, seq: number): string {
  return `${name}/checkpoint/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

export function atomicHeadKey(name: string): string {
  return `${name}/head`;
}

export function atomicBlockKey(name: string, index: number, seq: number, tag: string): string {
  return `${name}/blocks/${String(index).padStart(INDEX_DIGITS, '0')}.${String(seq).padStart(SEQ_DIGITS, '0')}.${tag}`;
}

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
  /** Write a checkpoint after this many commits since the last one (0: only when `checkpoint()` is called). Default 100. */
  checkpointEvery?: number;
}

/** Where the current version of a block is: a block object, or bytes that came inline in a commit record. */
interface BlockEntry {
  seq: number;
  tag: string;
  /** The bytes, when the block travelled inline in a record not yet folded by a checkpoint. */
  inline?: Uint8Array;
}

interface CommitRecord {
  seq: number;
  tag: string;
  size: number;
  blockSize: number;
  /** Blocks stored as block objects `atomicBlockKey(name, index, seq, tag)`. */
  blocks: number[];
  /** Blocks carried inline, with their bytes. */
  inline: Array<[number, Uint8Array]>;
}

export class AtomicFormat implements FileFormat {
  readonly flushesEarly = false;
  #blockSize: number;
  #size = 0;
  /** The last commit applied (0: none, the empty file). */
  #seq = 0;
  /** The latest checkpoint this process knows of (0: none). */
  #checkpointSeq = 0;
  #map = new Map<number, BlockEntry>();
  readonly #inlineLimit: number;
  readonly #checkpointEvery: number;
  readonly #conditional: boolean;

  private constructor(
    readonly store: BlockStore,
    readonly name: string,
    blockSize: number,
    options: AtomicFormatOptions,
  ) {
    this.#blockSize = blockSize;
    this.#inlineLimit = options.inlineLimit ?? DEFAULT_INLINE_LIMIT;
    this.#checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.#conditional = store.capabilities.conditionalPut;
  }

  /**
   * Opens file `name`: the head hint, the checkpoint it names, then the commit records
   * after that checkpoint, never the whole history and never a listing (but see
   * `#latestCheckpoint` for a head that points at a missing checkpoint).
   */
  static async open(store: BlockStore, name: string, options: AtomicFormatOptions): Promise<AtomicFormat> {
    const invalid = (message: string): BlockVfsError => new BlockVfsError('invalid', message, { source: SOURCE, store: store.name });
    if (!Number.isInteger(options.blockSize) || options.blockSize < 1) throw invalid(`block size must be a positive integer, got ${options.blockSize}`);
    if (options.inlineLimit !== undefined && !(Number.isSafeInteger(options.inlineLimit) && options.inlineLimit >= 0)) {
      throw invalid(`inlineLimit must be a non-negative integer, got ${options.inlineLimit}`);
    }
    if (options.checkpointEvery !== undefined && !(Number.isSafeInteger(options.checkpointEvery) && options.checkpointEvery >= 0)) {
      throw invalid(`checkpointEvery must be a non-negative integer, got ${options.checkpointEvery}`);
    }
    if (!store.capabilities.conditionalPut && !options.singleWriter) {
      throw invalid(
        `the atomic layout needs a store with conditional puts (create-if-absent) to keep two writers from corrupting "${name}", ` +
          `and this store has none; use a store that supports them, or pass singleWriter: true if only one writer can ever exist`,
      );
    }
    const format = new AtomicFormat(store, name, options.blockSize, options);
    await format.#load();
    return format;
  }

  get blockSize(): number {
    return this.#blockSize;
  }

  get size(): number {
    return this.#size;
  }

  /** The sequence number of the commit this format shows (0: no commit yet). */
  get seq(): number {
    return this.#seq;
  }

  /** The sequence number of the latest checkpoint this format knows of (0: none). */
  get checkpointSeq(): number {
    return this.#checkpointSeq;
  }

  async readBlock(index: number): Promise<Uint8Array | undefined> {
    const entry = this.#map.get(index);
    if (!entry) return undefined;
    if (entry.inline) return entry.inline.slice(); // callers may keep it; ours must stay unchanged
    const key = atomicBlockKey(this.name, index, entry.seq, entry.tag);
    const data = await this.store.get(key);
    if (data === undefined) {
      throw new BlockVfsError('permanent', `block object "${key}" of commit ${entry.seq} is missing (deleted by hand, or by a garbage collector run without a grace period)`, {
        source: SOURCE,
        store: this.store.name,
      });
    }
    return data;
  }

  /**
   * Commits `change` as commit `seq + 1`: uploads its blocks as new immutable objects
   * in parallel (or carries them inline when small), then creates the commit record
   * with create-if-absent. If another writer created that record first, rejects with
   * `precondition-failed` and changes nothing here: `refresh()` and retry on the new base.
   */
  async commit(change: FileChange): Promise<void> {
    const bs = this.#blockSize;
    const seq = this.#seq + 1;
    const tag = randomTag();
    const count = blockCount(change.size, bs);
    const written = [...change.blocks]
      .filter(([index]) => index < count)
      .sort(([a], [b]) => a - b)
      .map(([index, data]): [number, Uint8Array] => {
        const length = blockLength(index, change.size, bs);
        return [index, data.length === length ? data : data.subarray(0, length)];
      });
    const bytes = written.reduce((sum, [, data]) => sum + data.length, 0);
    const inline = bytes <= this.#inlineLimit;
    if (!inline) {
      await forEachLimit(written, PARALLEL_REQUESTS, async ([index, data]) => {
        await this.store.put(atomicBlockKey(this.name, index, seq, tag), data);
      });
    }
    const record: CommitRecord = {
      seq,
      tag,
      size: change.size,
      blockSize: bs,
      blocks: inline ? [] : written.map(([index]) => index),
      inline: inline ? written.map(([index, data]) => [index, data.slice()]) : [],
    };
    await this.#createRecord(record);
    this.#apply(record);
    if (this.#checkpointEvery > 0 && this.#seq - this.#checkpointSeq >= this.#checkpointEvery) {
      // The commit is durable already; a failed checkpoint only means a longer open, and the next commit tries again.
      await this.checkpoint().catch(() => undefined);
    }
  }

  /**
   * Picks up commits made by other writers since the one this format shows: one GET
   * when there are none. Returns whether anything changed.
   */
  async refresh(): Promise<boolean> {
    const before = this.#seq;
    await this.#catchUp();
    return this.#seq !== before;
  }

  /**
   * Writes a checkpoint of the current state: folds inline blocks into block objects,
   * writes `checkpoint/<seq>` (the full block map), then points the head hint at it.
   * Interrupted anywhere, it leaves only unreferenced objects or an older hint: both harmless.
   */
  async checkpoint(): Promise<void> {
    const seq = this.#seq;
    if (seq === 0 || seq === this.#checkpointSeq) return;
    const size = this.#size;
    const entries = [...this.#map].sort(([a], [b]) => a - b);
    const folded = entries.filter(([, entry]) => entry.inline !== undefined);
    await forEachLimit(folded, PARALLEL_REQUESTS, async ([index, entry]) => {
      await this.store.put(atomicBlockKey(this.name, index, entry.seq, entry.tag), entry.inline as Uint8Array);
    });
    const map: Array<[number, number, number]> = [];
    const tags: Record<string, string> = {};
    for (const [index, entry] of entries) {
      tags[entry.seq] = entry.tag;
      const last = map[map.length - 1];
      if (last && last[0] + last[1] === index && last[2] === entry.seq) last[1] += 1;
      else map.push([index, 1, entry.seq]);
    }
    const body = encodeObject(KIND_CHECKPOINT, { seq, time: Date.now(), size, blockSize: this.#blockSize, map, tags });
    try {
      await this.store.put(atomicCheckpointKey(this.name, seq), body, this.#conditional ? { ifNoneMatch: '*' } : undefined);
    } catch (error) {
      // Another process checkpointed the same commit: the same map, so as good as ours.
      if (!isBlockVfsError(error, 'precondition-failed')) throw error;
    }
    await this.store.put(atomicHeadKey(this.name), encodeObject(KIND_HEAD, { checkpoint: seq, blockSize: this.#blockSize }));
    if (seq > this.#checkpointSeq) this.#checkpointSeq = seq;
    for (const [index, entry] of folded) {
      // Only if no later commit replaced it meanwhile (calls do not overlap today, but cheaply safe).
      if (this.#map.get(index) === entry) this.#map.set(index, { seq: entry.seq, tag: entry.tag });
    }
  }

  /** Creates the record with create-if-absent, and settles an ambiguous outcome by reading it back. */
  async #createRecord(record: CommitRecord): Promise<void> {
    const key = atomicCommitKey(this.name, record.seq);
    const body = encodeRecord(record);
    try {
      await this.store.put(key, body, this.#conditional ? { ifNoneMatch: '*' } : undefined);
      return;
    } catch (error) {
      // A lost race, or a request that may have happened (a timeout, a retry layer whose
      // first attempt landed): the record on the store tells which.
      let existing: CommitRecord | undefined;
      try {
        const bytes = await this.store.get(key);
        existing = bytes && this.#decodeRecord(bytes, key, record.seq);
      } catch {
        throw error; // still unknown; the next commit or refresh will find out
      }
      if (existing?.tag === record.tag) return; // it was ours, and it landed
      if (existing) {
        throw new BlockVfsError(
          'precondition-failed',
          `another writer committed seq ${record.seq} of "${this.name}" first; this commit (on top of seq ${record.seq - 1}) was not applied: refresh and retry`,
          { source: SOURCE, store: this.store.name, cause: error },
        );
      }
      throw error;
    }
  }

  /** Applies a commit record (already validated to be seq + 1) to the in-memory state. */
  #apply(record: CommitRecord): void {
    const count = blockCount(record.size, this.#blockSize);
    for (const index of [...this.#map.keys()]) if (index >= count) this.#map.delete(index);
    for (const index of record.blocks) this.#map.set(index, { seq: record.seq, tag: record.tag });
    for (const [index, data] of record.inline) this.#map.set(index, { seq: record.seq, tag: record.tag, inline: data });
    this.#size = record.size;
    this.#seq = record.seq;
  }

  async #load(): Promise<void> {
    const headKey = atomicHeadKey(this.name);
    const headBytes = await this.store.get(headKey);
    let checkpoint = 0;
    if (headBytes) {
      const head = decodeObject(headBytes, KIND_HEAD, headKey, this.store.name).header;
      checkpoint = nonNegativeInteger(head.checkpoint, 'checkpoint', headKey, this.store.name);
    }
    if (checkpoint > 0) {
      let bytes = await this.store.get(atomicCheckpointKey(this.name, checkpoint));
      if (bytes === undefined) {
        // The hint names a checkpoint that is gone (a GC race, a hand deletion): the one
        // listing of the layout, off the hot path, finds the newest that remains.
        checkpoint = await this.#latestCheckpoint();
        bytes = checkpoint > 0 ? await this.store.get(atomicCheckpointKey(this.name, checkpoint)) : undefined;
        if (checkpoint > 0 && bytes === undefined) {
          throw new BlockVfsError('permanent', `checkpoint ${checkpoint} of "${this.name}" vanished while opening`, { source: SOURCE, store: this.store.name });
        }
      }
      if (bytes) this.#applyCheckpoint(bytes, checkpoint);
    }
    await this.#catchUp();
    if (this.#seq === 0 && (await this.store.get(directBlockKey(this.name, 0), { offset: 0, length: 1 })) !== undefined) {
      throw new BlockVfsError('invalid', `"${this.name}" holds a direct-layout file (object "${directBlockKey(this.name, 0)}"); open it with layout "direct"`, {
        source: SOURCE,
        store: this.store.name,
      });
    }
  }

  async #latestCheckpoint(): Promise<number> {
    const prefix = `${this.name}/checkpoint/`;
    let latest = 0;
    for await (const entry of this.store.list(prefix)) {
      const suffix = entry.key.slice(prefix.length);
      if (/^\d{12}$/.test(suffix)) latest = Math.max(latest, Number(suffix));
    }
    return latest;
  }

  #applyCheckpoint(bytes: Uint8Array, seq: number): void {
    const key = atomicCheckpointKey(this.name, seq);
    const store = this.store.name;
    const header = decodeObject(bytes, KIND_CHECKPOINT, key, store).header;
    if (nonNegativeInteger(header.seq, 'seq', key, store) !== seq) corrupt(key, store, `it says seq ${String(header.seq)}`);
    const blockSize = positiveInteger(header.blockSize, 'blockSize', key, store);
    const size = nonNegativeInteger(header.size, 'size', key, store);
    const tags = header.tags;
    if (typeof tags !== 'object' || tags === null) corrupt(key, store, 'no tags');
    const map = new Map<number, BlockEntry>();
    if (!Array.isArray(header.map)) corrupt(key, store, 'no map');
    for (const run of header.map as unknown[]) {
      if (!Array.isArray(run) || run.length !== 3) corrupt(key, store, 'bad map run');
      const [first, length, runSeq] = (run as unknown[]).map((n) => nonNegativeInteger(n, 'map', key, store)) as [number, number, number];
      const tag = (tags as Record<string, unknown>)[runSeq];
      if (typeof tag !== 'string' || !/^[0-9a-f]{16}$/.test(tag)) corrupt(key, store, `no tag for seq ${runSeq}`);
      for (let index = first; index < first + length; index++) map.set(index, { seq: runSeq, tag: tag as string });
    }
    this.#blockSize = blockSize;
    this.#size = size;
    this.#seq = seq;
    this.#checkpointSeq = seq;
    this.#map = map;
  }

  /** Reads and applies the commit records after `#seq`, fetching a window that doubles from 1 (one GET when there are none). */
  async #catchUp(): Promise<void> {
    let window = 1;
    for (;;) {
      const first = this.#seq + 1;
      const seqs = Array.from({ length: window }, (_, i) => first + i);
      const fetched = await Promise.all(seqs.map((seq) => this.store.get(atomicCommitKey(this.name, seq))));
      for (const [i, bytes] of fetched.entries()) {
        // Stop at the first gap: a later record fetched in the same window was created after it, and is read next time.
        if (bytes === undefined) return;
        const seq = first + i;
        const record = this.#decodeRecord(bytes, atomicCommitKey(this.name, seq), seq);
        if (this.#seq === 0 && record.blockSize !== this.#blockSize) this.#blockSize = record.blockSize; // a file keeps its block size
        if (record.blockSize !== this.#blockSize) {
          corrupt(atomicCommitKey(this.name, seq), this.store.name, `block size ${record.blockSize}, but the file has ${this.#blockSize}`);
        }
        this.#apply(record);
      }
      window = Math.min(window * 2, MAX_PROBE_WINDOW);
    }
  }

  #decodeRecord(bytes: Uint8Array, key: string, seq: number): CommitRecord {
    return decodeRecord(bytes, key, seq, this.store.name);
  }
}

function encodeRecord(record: CommitRecord): Uint8Array {
  const payload = new Uint8Array(record.inline.reduce((sum, [, data]) => sum + data.length, 0));
  let offset = 0;
  for (const [, data] of record.inline) {
    payload.set(data, offset);
    offset += data.length;
  }
  const header = {
    seq: record.seq,
    tag: record.tag,
    time: Date.now(),
    size: record.size,
    blockSize: record.blockSize,
    blocks: record.blocks,
    inline: record.inline.map(([index, data]) => [index, data.length]),
  };
  return encodeObject(KIND_COMMIT, header, payload);
}

function decodeRecord(bytes: Uint8Array, key: string, seq: number, store: string): CommitRecord {
  const { header, payload } = decodeObject(bytes, KIND_COMMIT, key, store);
  if (nonNegativeInteger(header.seq, 'seq', key, store) !== seq) corrupt(key, store, `it says seq ${String(header.seq)}`);
  const tag = header.tag;
  if (typeof tag !== 'string' || !/^[0-9a-f]{16}$/.test(tag)) corrupt(key, store, 'bad tag');
  if (!Array.isArray(header.blocks) || !Array.isArray(header.inline)) corrupt(key, store, 'no block lists');
  const blocks = (header.blocks as unknown[]).map((n) => nonNegativeInteger(n, 'blocks', key, store));
  const inline: Array<[number, Uint8Array]> = [];
  let offset = 0;
  for (const item of header.inline as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2) corrupt(key, store, 'bad inline entry');
    const [index, length] = (item as unknown[]).map((n) => nonNegativeInteger(n, 'inline', key, store)) as [number, number];
    if (offset + length > payload.length) corrupt(key, store, 'inline blocks run past the payload');
    inline.push([index, payload.slice(offset, offset + length)]);
    offset += length;
  }
  return {
    seq,
    tag: tag as string,
    size: nonNegativeInteger(header.size, 'size', key, store),
    blockSize: positiveInteger(header.blockSize, 'blockSize', key, store),
    blocks,
    inline,
  };
}

function corrupt(key: string, store: string, what: string): never {
  throw new BlockVfsError('permanent', `"${key}" is not a valid object of the atomic layout: ${what}`, { source: SOURCE, store });
}

function nonNegativeInteger(value: unknown, field: string, key: string, store: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) corrupt(key, store, `bad ${field}`);
  return value as number;
}

function positiveInteger(value: unknown, field: string, key: string, store: string): number {
  const n = nonNegativeInteger(value, field, key, store);
  if (n < 1) corrupt(key, store, `bad ${field}`);
  return n;
}

/** 8 random bytes as 16 hex digits: tells apart two writers' attempts at the same seq. */
function randomTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
