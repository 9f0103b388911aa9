import { BlockVfsError } from './errors.js';
import { blockCount, type FileFormat } from './file-format.js';

const SOURCE = '@blockvfs/core';

export interface PagedFileOptions {
  /**
   * When the changed blocks held in memory exceed this many bytes, they leave memory
   * before the next sync: committed early where the format allows it (the direct
   * layout, whose journal protects partial writes), or uploaded ahead of the commit
   * where nothing is visible before it (the atomic layout). Default 64 MiB.
   */
  maxDirtyBytes?: number;
}

/**
 * A file of any size over fixed-size blocks: reads and writes at any offset and
 * length, partial blocks, block sizes unrelated to SQLite's page size. Changes are
 * buffered as whole dirty blocks and handed to the format in one commit at `sync`
 * (uploaded in parallel there), which is also when SQLite expects them durable.
 *
 * The size is tracked here, not asked of the store on every call. Calls must not
 * overlap: the VFS serialises them.
 */
export class PagedFile {
  readonly #format: FileFormat;
  readonly #maxDirtyBytes: number;
  readonly #dirty = new Map<number, Uint8Array>();
  /**
   * The blocks the latest sync committed, kept while they are few: SQLite reads some of
   * them again right away (the journal header it rewrites, the change counter on page 1
   * at the next transaction), and a copy here saves those GETs. Tied to the format's
   * version they were committed at: once the format shows another state (a refresh, a
   * reload, whether or not it completed), they are stale and never read.
   */
  #recent: { version: number | undefined; blocks: Map<number, Uint8Array> } = { version: undefined, blocks: new Map() };
  /**
   * The size after changes not yet committed; undefined when there are none, and the
   * size is then always the format's (so it can never lag behind a refresh).
   */
  #pendingSize: number | undefined;
  /** Blocks of the coming commit went to the store ahead of it (see FileFormat.stage). */
  #staged = false;
  /** A commit with staged blocks failed: those blocks are lost, so only `discard()` can go on. */
  #lost: unknown;

  constructor(format: FileFormat, options: PagedFileOptions = {}) {
    this.#format = format;
    this.#maxDirtyBytes = options.maxDirtyBytes ?? 64 * 1024 * 1024;
  }

  get name(): string {
    return this.#format.name;
  }

  get blockSize(): number {
    return this.#format.blockSize;
  }

  /** The file size including changes not yet synced. */
  get size(): number {
    return this.#pendingSize ?? this.#format.size;
  }

  /** Whether there are changes that `sync` would commit. */
  get dirty(): boolean {
    return this.#dirty.size > 0 || this.#pendingSize !== undefined || this.#staged;
  }

  /** A block the latest sync committed, while the format still shows that commit. */
  #recentBlock(index: number): Uint8Array | undefined {
    return this.#recent.version === this.#format.version ? this.#recent.blocks.get(index) : undefined;
  }

  /** The layout underneath (for layout-specific calls such as the atomic layout's checkpoint). */
  get format(): FileFormat {
    return this.#format;
  }

  /**
   * Reads `target.length` bytes at `offset` into `target`. Returns how many bytes
   * came from the file; the rest of `target` (past the end of the file) is zeroed.
   */
  async read(target: Uint8Array, offset: number): Promise<number> {
    checkRange(offset, target.length);
    const end = Math.min(offset + target.length, this.size);
    const available = Math.max(0, end - offset);
    target.fill(0, available);
    if (available === 0) return 0;
    const reads: Promise<void>[] = [];
    for (let index = Math.floor(offset / this.blockSize); index * this.blockSize < end; index++) {
      reads.push(this.#block(index).then((block) => this.#copyBlock(target, offset, end, index, block)));
    }
    await Promise.all(reads);
    return available;
  }

  /**
   * `read` answered from memory alone (changed blocks, just-committed ones, the
   * format's cache), with no request: the byte count, or undefined when some block
   * needs the store (then `target` may hold part of the data; call `read`).
   */
  readInMemory(target: Uint8Array, offset: number): number | undefined {
    checkRange(offset, target.length);
    const end = Math.min(offset + target.length, this.size);
    const available = Math.max(0, end - offset);
    target.fill(0, available);
    if (available === 0) return 0;
    for (let index = Math.floor(offset / this.blockSize); index * this.blockSize < end; index++) {
      const block = this.#dirty.get(index) ?? this.#recentBlock(index) ?? this.#format.readBlockInMemory?.(index);
      if (block === undefined) return undefined;
      this.#copyBlock(target, offset, end, index, block ?? undefined);
    }
    return available;
  }

  /** Copies block `index`'s part of the range [offset, end) into `target` (which starts at `offset`); an absent block, or the missing tail of a short one, reads as zeros. */
  #copyBlock(target: Uint8Array, offset: number, end: number, index: number, block: Uint8Array | undefined): void {
    const blockStart = index * this.blockSize;
    const from = Math.max(offset, blockStart);
    const to = Math.min(end, blockStart + this.blockSize);
    const dest = target.subarray(from - offset, to - offset);
    if (block === undefined) {
      dest.fill(0);
      return;
    }
    const src = block.subarray(from - blockStart, Math.min(to - blockStart, block.length));
    dest.set(src);
    dest.fill(0, src.length); // a stored block shorter than expected reads as zeros
  }

  /** Writes `data` at `offset`, growing the file if it ends past the current size. */
  async write(data: Uint8Array, offset: number): Promise<void> {
    checkRange(offset, data.length);
    if (data.length === 0) return;
    const bs = this.blockSize;
    const end = offset + data.length;
    if (offset > this.size) await this.#grow(offset);
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    const oldSize = this.size;
    await Promise.all(
      range(first, last).map(async (index) => {
        const blockStart = index * bs;
        const from = Math.max(offset, blockStart);
        const to = Math.min(end, blockStart + bs);
        const coversOldBytes = blockStart < oldSize && (from > blockStart || to < Math.min(blockStart + bs, oldSize));
        const buffer = coversOldBytes ? await this.#dirtyBlock(index) : (this.#dirty.get(index) ?? new Uint8Array(bs));
        buffer.set(data.subarray(from - offset, to - offset), from - blockStart);
        this.#dirty.set(index, buffer);
      }),
    );
    if (end > this.size) this.#setSize(end);
    await this.#flushIfLarge();
  }

  /** Sets the file size: drops blocks past it, or grows the file with zeros. */
  async truncate(size: number): Promise<void> {
    checkRange(size, 0);
    if (size > this.size) {
      await this.#grow(size);
      this.#setSize(size);
      return;
    }
    if (size === this.size) return;
    const bs = this.blockSize;
    const count = blockCount(size, bs);
    for (const index of this.#dirty.keys()) if (index >= count) this.#dirty.delete(index);
    for (const index of this.#recent.blocks.keys()) if (index >= count) this.#recent.blocks.delete(index);
    if (size % bs !== 0) {
      // The new last block is rewritten shorter, and its tail zeroed so that a later growth reads zeros.
      const last = await this.#dirtyBlock(count - 1);
      last.fill(0, size % bs);
    }
    this.#setSize(size);
  }

  /**
   * Commits every buffered change to the store. On failure the changes stay buffered,
   * except when some had been uploaded ahead of the commit (a transaction larger than
   * memory): the format forgets those, so the file then refuses to sync until `discard()`.
   */
  async sync(): Promise<void> {
    if (this.#lost !== undefined) {
      throw new BlockVfsError('invalid', `the changes to "${this.name}" were lost when their commit failed; discard them and start again`, {
        source: SOURCE,
        cause: this.#lost,
      });
    }
    if (!this.dirty) return;
    try {
      await this.#format.commit({ size: this.size, blocks: this.#dirty });
    } catch (error) {
      if (this.#staged) this.#lost = error;
      throw error;
    }
    const kept = this.#dirty.size * this.blockSize <= RECENT_BLOCKS_MAX_BYTES ? new Map(this.#dirty) : new Map<number, Uint8Array>();
    this.#recent = { version: this.#format.version, blocks: kept };
    this.#dirty.clear();
    this.#pendingSize = undefined;
    this.#staged = false;
  }

  /** Drops every change not yet committed: the file is again as the store has it. */
  discard(): void {
    this.#dirty.clear();
    this.#pendingSize = undefined;
    this.#staged = false;
    this.#lost = undefined;
    this.#format.discard?.();
  }

  /** Whether `refresh()` would ask the store (see FileFormat.refreshNeeded); with unsaved changes it would refuse, so true. */
  get refreshNeeded(): boolean {
    return this.dirty || (this.#format.refresh !== undefined && (this.#format.refreshNeeded?.() ?? true));
  }

  /** Whether `beginWrite()` has work to do (see FileFormat.beginWriteNeeded). */
  get beginWriteNeeded(): boolean {
    return this.#format.beginWrite !== undefined && (this.#format.beginWriteNeeded?.() ?? true);
  }

  /** Tells the format that a transaction is about to write (see FileFormat.beginWrite). */
  async beginWrite(): Promise<void> {
    await this.#format.beginWrite?.();
  }

  /** Commits what is buffered, then releases what the format holds (a writer lease). */
  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      await this.#format.close?.();
    }
  }

  /**
   * Picks up what other writers committed since (layouts that can see them: the atomic
   * one), at the start of a read transaction. Only between transactions: with unsaved
   * changes it refuses. Resolves to whether anything changed.
   */
  async refresh(): Promise<boolean> {
    if (this.dirty) {
      throw new BlockVfsError('invalid', `cannot refresh "${this.name}" while it has unsaved changes`, { source: SOURCE });
    }
    // The size and the recent blocks follow the format's state by themselves (see #recent, #pendingSize).
    return (await this.#format.refresh?.()) ?? false;
  }

  /** Zero-fills from the current size up to `size`: the blocks in between must exist on the store. */
  async #grow(size: number): Promise<void> {
    const bs = this.blockSize;
    const oldSize = this.size;
    if (oldSize % bs !== 0) await this.#dirtyBlock(Math.floor(oldSize / bs)); // rewritten longer
    for (let index = blockCount(oldSize, bs); index * bs < size; index++) {
      if (!this.#dirty.has(index)) this.#dirty.set(index, new Uint8Array(bs));
    }
    this.#setSize(size);
  }

  #setSize(size: number): void {
    this.#pendingSize = size;
  }

  /** The current contents of block `index`: the buffered copy, or the committed one. */
  async #block(index: number): Promise<Uint8Array | undefined> {
    return this.#dirty.get(index) ?? this.#recentBlock(index) ?? this.#format.readBlock(index);
  }

  /** Block `index` as a whole-block buffer held in the dirty set, loaded from the store if needed. */
  async #dirtyBlock(index: number): Promise<Uint8Array> {
    const held = this.#dirty.get(index);
    if (held) return held;
    const buffer = new Uint8Array(this.blockSize);
    const stored = this.#recentBlock(index) ?? (await this.#format.readBlock(index));
    if (stored) buffer.set(stored.subarray(0, this.blockSize)); // a copy: recent blocks are never changed in place
    // Another call may have buffered the block while we read it; theirs is newer.
    const raced = this.#dirty.get(index);
    if (raced) return raced;
    this.#dirty.set(index, buffer);
    return buffer;
  }

  async #flushIfLarge(): Promise<void> {
    if (this.#dirty.size * this.blockSize <= this.#maxDirtyBytes) return;
    if (this.#format.flushesEarly) {
      await this.sync();
      return;
    }
    if (!this.#format.stage) return;
    // Whole blocks only: the last one may still grow, and a staged object is a whole block.
    const full = Math.floor(this.size / this.blockSize);
    const ahead = new Map([...this.#dirty].filter(([index]) => index < full));
    if (ahead.size === 0) return;
    await this.#format.stage(ahead);
    for (const index of ahead.keys()) {
      this.#dirty.delete(index);
      this.#recent.blocks.delete(index);
    }
    this.#staged = true;
  }
}

/** The most bytes of just-committed blocks a PagedFile keeps (see `#recent`). */
const RECENT_BLOCKS_MAX_BYTES = 4 * 1024 * 1024;

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new BlockVfsError('invalid', `bad file range: offset ${offset}, length ${length}`, { source: SOURCE });
  }
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
