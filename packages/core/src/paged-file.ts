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
   * reload, whether or not it completed), they are stale and never read. They are ours
   * alone (FileFormat.commit keeps none), so the next transaction that changes one of
   * them takes the buffer over instead of copying it.
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
    const bs = this.blockSize;
    for (let index = Math.floor(offset / bs); index * bs < end; index++) {
      const from = Math.max(offset, index * bs);
      const to = Math.min(end, (index + 1) * bs);
      reads.push(this.#block(index).then((block) => copyFromBlock(target, from - offset, block ?? null, from - index * bs, to - from)));
    }
    await Promise.all(reads);
    return available;
  }

  /**
   * Reads `length` bytes at `offset` into `target` from `at` on (by default all of
   * `target`), if every block they touch is in memory: returns how many bytes came
   * from the file (the rest, past its end, is zeroed), or undefined, having written
   * nothing, when a block would have to come from the store. Synchronous: SQLite reads
   * here at every transaction (the change counter), so a read of a few bytes makes no
   * views of the arrays.
   */
  readInMemory(target: Uint8Array, offset: number, at = 0, length = target.length - at): number | undefined {
    checkRange(offset, length);
    const end = Math.min(offset + length, this.size);
    const available = Math.max(0, end - offset);
    if (available === 0) {
      target.fill(0, at, at + length);
      return 0;
    }
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    if (first === last) {
      // The usual case: one block, checked and copied in one go.
      const block = this.#blockInMemory(first);
      if (block === undefined) return undefined;
      copyFromBlock(target, at, block, offset - first * bs, available);
    } else {
      const blocks: (Uint8Array | null)[] = [];
      for (let index = first; index <= last; index++) {
        const block = this.#blockInMemory(index);
        if (block === undefined) return undefined;
        blocks.push(block);
      }
      for (let index = first; index <= last; index++) {
        const from = Math.max(offset, index * bs);
        const to = Math.min(end, (index + 1) * bs);
        copyFromBlock(target, at + from - offset, blocks[index - first] as Uint8Array | null, from - index * bs, to - from);
      }
    }
    if (available < length) target.fill(0, at + available, at + length);
    return available;
  }

  /** Block `index` from memory: its bytes, null for a block never written (zeros), undefined when only the store has it. */
  #blockInMemory(index: number): Uint8Array | null | undefined {
    return this.#dirty.get(index) ?? this.#recentBlock(index) ?? this.#format.readBlockInMemory?.(index);
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
    const recent = this.#recentBlock(index);
    if (recent) {
      // Taken over, not copied (a 64 KiB copy per changed block was a tenth of a small commit's CPU).
      this.#recent.blocks.delete(index);
      this.#dirty.set(index, recent);
      return recent;
    }
    const buffer = new Uint8Array(this.blockSize);
    const stored = await this.#format.readBlock(index);
    if (stored) buffer.set(stored.subarray(0, this.blockSize));
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

/**
 * Copies `length` bytes of `block` from `from` into `target` at `at`; bytes past the end
 * of a short block (or of a null one: never written) read as zeros. A few bytes (the
 * change counter SQLite reads at every transaction) are copied one by one: cheaper than
 * making the views a bulk copy needs.
 */
function copyFromBlock(target: Uint8Array, at: number, block: Uint8Array | null, from: number, length: number): void {
  const have = block === null ? 0 : Math.max(0, Math.min(length, block.length - from));
  if (block !== null && have > 0) {
    if (have <= 64) for (let i = 0; i < have; i++) target[at + i] = block[from + i] as number;
    else target.set(block.subarray(from, from + have), at);
  }
  if (have < length) target.fill(0, at + have, at + length);
}
