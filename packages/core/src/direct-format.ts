import type { BlockStore, PutResult } from './block-store.js';
import { forEachLimit } from './concurrency.js';
import { blockSizeProblem, storeProblem } from './argument-checks.js';
import { BlockVfsError } from './errors.js';
import { hasAtomicDatabase, isSqliteObject, sqliteObjectError, WrongLayoutError } from './stored-database.js';
import { blockCount, blockLength, type FileChange, type FileFormat } from './file-format.js';

/**
 * The direct layout, key-compatible with uktrade/sqlite-s3vfs: block i of file
 * `<name>` is the object `<name>/<i as 10 zero-padded digits>`, overwritten in place.
 * Every block but the last is exactly `blockSize` bytes, so the file size is the sum
 * of the object sizes (which is how sqlite-s3vfs computes it). Writes are not atomic
 * across blocks: SQLite's rollback journal, stored the same way, makes commits safe,
 * provided that a file left by an interrupted commit still opens (see `commit`).
 */

const SOURCE = '@blockvfs/core';
const BLOCK_KEY_DIGITS = 10;
/** Parallel requests per commit or delete; enough to hide latency, few enough for any server. */
const PARALLEL_REQUESTS = 16;

export function directBlockKey(name: string, index: number): string {
  return `${name}/${String(index).padStart(BLOCK_KEY_DIGITS, '0')}`;
}

export interface DirectFormatOptions {
  /** Block size for a new file; an existing file keeps the block size it was written with. */
  blockSize: number;
  /**
   * The file's size when the caller already knows it (a file this process just
   * deleted or wrote), to skip listing the store. Only safe with a single writer.
   */
  knownSize?: number;
  /**
   * The file is a database that this open may create (not a journal): when it has no
   * block, ask what else sits under its name, and refuse an atomic-layout database
   * (WrongLayoutError) or an SQLite file stored as one object. Costs a GET and a LIST,
   * side by side, only when no block exists.
   */
  probeOthers?: boolean;
}

interface BlockInfo {
  /** Blocks present on the store. */
  count: number;
  /** The last block present: the file ends with it. */
  last: { index: number; size: number } | undefined;
  /** The size of the first block present that is not the last (a full block). */
  fullBlockSize: number | undefined;
  /** A block, other than the last, whose size differs from `fullBlockSize` (a corrupt or foreign file). */
  irregular: { key: string; size: number } | undefined;
  /** Runs of indexes below the last block that have no object, as [first, end) (ranges: a stray high key must not cost a loop per index). */
  missing: Array<[number, number]>;
}

/**
 * Lists the blocks of file `name`. A well-formed file has every block from 0 to the
 * last, but a commit that failed or crashed partway can leave gaps: blocks go up in
 * parallel, and deletes in unordered batches. Such a file must still open, or SQLite
 * could never roll it back with its hot journal, so gaps are reported, not refused.
 */
async function listBlocks(store: BlockStore, name: string): Promise<BlockInfo> {
  const prefix = `${name}/`;
  let count = 0;
  let last: { index: number; size: number; key: string } | undefined;
  let fullBlockSize: number | undefined;
  let irregular: { key: string; size: number } | undefined;
  const missing: Array<[number, number]> = [];
  for await (const entry of store.list(prefix)) {
    const suffix = entry.key.slice(prefix.length);
    if (!/^\d{10}$/.test(suffix)) continue; // not a block of this file (e.g. a nested name)
    const index = Number(suffix);
    const expected = last === undefined ? 0 : last.index + 1;
    if (index > expected) missing.push([expected, index]);
    // Only now do we know `last` was not the last block, so it must be full-sized.
    if (last) {
      fullBlockSize ??= last.size;
      if (last.size !== fullBlockSize) irregular ??= { key: last.key, size: last.size };
    }
    last = { index, size: entry.size, key: entry.key };
    count += 1;
  }
  return { count, last: last && { index: last.index, size: last.size }, fullBlockSize, irregular, missing };
}

/**
 * Refuses a file whose blocks do not fit `blockSize`: reading it with another block
 * size would silently return the wrong bytes. A file whose only block is block 0
 * reveals its block size only when that block is larger than the one asked for (a
 * shorter single block fits any larger block size, and is then simply extended).
 */
function checkBlockSizes(store: BlockStore, name: string, blockSize: number, info: BlockInfo): void {
  const fail = (kind: 'invalid' | 'permanent', message: string): never => {
    throw new BlockVfsError(kind, message, { source: SOURCE, store: store.name });
  };
  const { last, fullBlockSize, irregular } = info;
  if (!last) return;
  if (irregular) {
    fail(
      'permanent',
      `file "${name}" is not a direct-layout file: block ${irregular.key} has ${irregular.size} bytes, but its other blocks have ${fullBlockSize}`,
    );
  }
  if (last.size > blockSize) {
    const what = fullBlockSize === undefined ? `a block size of at least ${last.size}` : `blocks of ${fullBlockSize} bytes but a last block of ${last.size}`;
    fail(fullBlockSize === undefined ? 'invalid' : 'permanent', `file "${name}" was written with ${what}, but block size ${blockSize} was asked for`);
  }
}

export class DirectFormat implements FileFormat {
  readonly flushesEarly = true;
  #size: number;
  /** Runs of blocks below the size that have no object (left by an interrupted commit): written as zeros at the next commit. */
  #missing: Array<[number, number]>;

  private constructor(
    readonly store: BlockStore,
    readonly name: string,
    readonly blockSize: number,
    size: number,
    missing: Array<[number, number]> = [],
  ) {
    this.#size = size;
    this.#missing = missing;
  }

  /** Opens file `name`, listing its blocks once to learn its size (unless `knownSize` is given). */
  static async open(store: BlockStore, name: string, options: DirectFormatOptions): Promise<DirectFormat> {
    const problem = storeProblem(store) ?? blockSizeProblem(options.blockSize);
    if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store: (store as BlockStore | undefined)?.name });
    if (options.knownSize !== undefined) return new DirectFormat(store, name, options.blockSize, options.knownSize);
    const info = await listBlocks(store, name);
    if (info.count === 0 && options.probeOthers) {
      const [atomic, sqliteObject] = await Promise.all([hasAtomicDatabase(store, name), isSqliteObject(store, name)]);
      if (atomic)
        throw new WrongLayoutError(
          'atomic',
          `"${name}" holds an atomic-layout database (object "${name}/head" or "${name}/log/…"); open it with layout "atomic"`,
          store.name,
        );
      if (sqliteObject) throw sqliteObjectError(store, name);
    }
    // A file of two or more blocks shows the block size it was written with, and keeps it.
    const blockSize = info.fullBlockSize ?? options.blockSize;
    checkBlockSizes(store, name, blockSize, info);
    // The file ends where its last block ends; on a file without gaps that is the sum of the object sizes.
    const size = info.last ? info.last.index * blockSize + info.last.size : 0;
    return new DirectFormat(store, name, blockSize, size, info.missing);
  }

  /** Whether the file has any bytes on the store (one small ranged read). */
  static async exists(store: BlockStore, name: string): Promise<boolean> {
    return (await store.get(directBlockKey(name, 0), { offset: 0, length: 1 })) !== undefined;
  }

  /** Deletes every block of file `name`; a missing file is fine. */
  static async delete(store: BlockStore, name: string, knownSize?: number, blockSize?: number): Promise<void> {
    let keys: string[];
    if (knownSize !== undefined && blockSize !== undefined) {
      keys = Array.from({ length: blockCount(knownSize, blockSize) }, (_, i) => directBlockKey(name, i));
    } else {
      keys = [];
      const prefix = `${name}/`;
      for await (const entry of store.list(prefix)) {
        if (/^\d{10}$/.test(entry.key.slice(prefix.length))) keys.push(entry.key);
      }
    }
    if (keys.length > 0) await store.delete(keys);
  }

  get size(): number {
    return this.#size;
  }

  readBlock(index: number): Promise<Uint8Array | undefined> {
    return this.store.get(directBlockKey(this.name, index));
  }

  /**
   * Writes the changed blocks and deletes those past the new end. Blocks go up in
   * parallel, so a commit that fails or crashes partway can leave gaps (which `open`
   * accepts and the next commit fills). What it must never leave is a short block
   * before the last one, which would make the file unreadable; hence the order:
   * a shrink deletes before rewriting its new last block shorter, and a growth
   * rewrites the old, partial last block full before writing any block after it.
   */
  async commit(change: FileChange): Promise<void> {
    const { size, blocks } = change;
    const bs = this.blockSize;
    const newCount = blockCount(size, bs);
    const oldCount = blockCount(this.#size, bs);
    const writes = new Map([...blocks].filter(([index]) => index < newCount));
    // Fill the gaps an interrupted commit left, so that the size is again the sum of the object sizes.
    for (const [first, end] of this.#missing) {
      for (let index = first; index < Math.min(end, newCount); index++) if (!writes.has(index)) writes.set(index, new Uint8Array(bs));
    }

    if (oldCount > newCount) {
      const stale = Array.from({ length: oldCount - newCount }, (_, i) => directBlockKey(this.name, newCount + i));
      await this.store.delete(stale);
    }
    const oldLast = oldCount - 1;
    if (newCount > oldCount && this.#size % bs !== 0 && !this.#missing.some(([first, end]) => first <= oldLast && oldLast < end)) {
      // The old last block becomes a full one: first, alone.
      const grown = writes.get(oldLast) ?? (await this.#padded(oldLast));
      await this.#put(oldLast, grown, size);
      writes.delete(oldLast);
    }
    const ordered = [...writes].sort(([a], [b]) => a - b);
    await forEachLimit(ordered, PARALLEL_REQUESTS, async ([index, data]) => {
      await this.#put(index, data, size);
    });
    this.#missing = []; // every gap below the new size was written; those above it were deleted
    this.#size = size;
  }

  #put(index: number, data: Uint8Array, size: number): Promise<PutResult> {
    // A copy: the caller may change its buffer once the commit settles (FileFormat.commit).
    return this.store.put(directBlockKey(this.name, index), data.slice(0, blockLength(index, size, this.blockSize)));
  }

  /** Block `index` as stored, zero-padded to a whole block (for a caller that grew the file without handing it over). */
  async #padded(index: number): Promise<Uint8Array> {
    const buffer = new Uint8Array(this.blockSize);
    const stored = await this.readBlock(index);
    if (stored) buffer.set(stored.subarray(0, this.blockSize));
    return buffer;
  }
}
