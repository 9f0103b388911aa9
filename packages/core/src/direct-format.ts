import type { BlockStore } from './block-store.js';
import { forEachLimit } from './concurrency.js';
import { BlockVfsError } from './errors.js';
import { blockCount, blockLength, type FileChange, type FileFormat } from './file-format.js';

/**
 * The direct layout, key-compatible with uktrade/sqlite-s3vfs: block i of file
 * `<name>` is the object `<name>/<i as 10 zero-padded digits>`, overwritten in place.
 * Every block but the last is exactly `blockSize` bytes, so the file size is the sum
 * of the object sizes (which is how sqlite-s3vfs computes it). Writes are not atomic
 * across blocks: SQLite's rollback journal, stored the same way, makes commits safe.
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
}

interface BlockInfo {
  count: number;
  size: number;
  firstBlockSize: number | undefined;
}

async function listBlocks(store: BlockStore, name: string): Promise<BlockInfo> {
  const prefix = `${name}/`;
  let count = 0;
  let size = 0;
  let firstBlockSize: number | undefined;
  for await (const entry of store.list(prefix)) {
    const suffix = entry.key.slice(prefix.length);
    if (!/^\d{10}$/.test(suffix)) continue; // not a block of this file (e.g. a nested name)
    if (Number(suffix) !== count) {
      throw new BlockVfsError('permanent', `file "${name}" is missing block ${count} (found ${entry.key}): the direct layout needs every block up to the last`, {
        source: SOURCE,
        store: store.name,
      });
    }
    if (count === 0) firstBlockSize = entry.size;
    size += entry.size;
    count += 1;
  }
  return { count, size, firstBlockSize };
}

export class DirectFormat implements FileFormat {
  readonly flushesEarly = true;
  #size: number;

  private constructor(
    readonly store: BlockStore,
    readonly name: string,
    readonly blockSize: number,
    size: number,
  ) {
    this.#size = size;
  }

  /** Opens file `name`, listing its blocks once to learn its size (unless `knownSize` is given). */
  static async open(store: BlockStore, name: string, options: DirectFormatOptions): Promise<DirectFormat> {
    const { blockSize } = options;
    if (!Number.isInteger(blockSize) || blockSize < 1) {
      throw new BlockVfsError('invalid', `block size must be a positive integer, got ${blockSize}`, { source: SOURCE, store: store.name });
    }
    if (options.knownSize !== undefined) return new DirectFormat(store, name, blockSize, options.knownSize);
    const info = await listBlocks(store, name);
    if (info.count > 1 && info.firstBlockSize !== blockSize) {
      throw new BlockVfsError(
        'invalid',
        `file "${name}" was written with block size ${info.firstBlockSize}, but block size ${blockSize} was asked for`,
        { source: SOURCE, store: store.name },
      );
    }
    return new DirectFormat(store, name, blockSize, info.size);
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

  async commit(change: FileChange): Promise<void> {
    const { size, blocks } = change;
    const newCount = blockCount(size, this.blockSize);
    const oldCount = blockCount(this.#size, this.blockSize);
    const writes = [...blocks].filter(([index]) => index < newCount).sort(([a], [b]) => a - b);
    await forEachLimit(writes, PARALLEL_REQUESTS, async ([index, data]) => {
      const length = blockLength(index, size, this.blockSize);
      await this.store.put(directBlockKey(this.name, index), data.length === length ? data : data.subarray(0, length));
    });
    if (oldCount > newCount) {
      const stale = Array.from({ length: oldCount - newCount }, (_, i) => directBlockKey(this.name, newCount + i));
      await this.store.delete(stale);
    }
    this.#size = size;
  }
}
