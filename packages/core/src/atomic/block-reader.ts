import type { BlockStore } from '../block-store.js';
import type { CacheStats } from '../layers/cache.js';

/** Consecutive block reads before reading ahead starts: a point query rarely reads three in a row. */
const SEQUENTIAL_TRIGGER = 3;
const FIRST_WINDOW = 4;
const MAX_WINDOW = 64;
/** The most read-ahead fetches in flight at once. */
const MAX_AHEAD_IN_FLIGHT = 32;

/**
 * Checks an object's bytes as fetched (its length and checksum against what the commit
 * that wrote it recorded); throws a `permanent` error naming the object when they differ.
 */
export type BlockCheck = (bytes: Uint8Array) => void;

/** A block object to read: its key and how to check its bytes. */
export interface BlockObject {
  key: string;
  check: BlockCheck;
}

/**
 * Reads the block objects of one file: from the cache when it holds them, else from the
 * store, one request per key at a time (a read waits for a fetch of the same key already
 * in flight), and ahead of SQLite when it reads blocks in order (a table scan). After
 * SEQUENTIAL_TRIGGER consecutive blocks, the next ones are fetched in parallel into the
 * cache, a window that doubles from 4 to 64 blocks while the reads stay in order, so
 * that a cold scan costs about one round trip per window instead of one per block.
 * Only immutable objects (the atomic layout's blocks) may be read this way.
 *
 * Every fetch is checked (BlockCheck) before anyone is given its bytes and before the
 * cache keeps them: what the cache holds was checked (or written by this process), so
 * reads from memory need no check of their own.
 */
export class BlockReader {
  readonly #store: BlockStore;
  readonly #cache: CacheStats | undefined;
  readonly #inflight = new Map<string, Promise<Uint8Array | undefined>>();
  #last = -2;
  #run = 0;
  /** The highest block index fetched ahead in the current run. */
  #ahead = -1;
  #aheadInFlight = 0;

  /** `store`: the store itself, not a cache of it; `cache`: where fetched blocks are kept (without one, nothing is read ahead). */
  constructor(store: BlockStore, cache: CacheStats | undefined) {
    this.#store = store;
    this.#cache = cache;
  }

  /** The object's bytes, checked (a copy the caller may keep), or undefined when it does not exist. */
  async get(object: BlockObject): Promise<Uint8Array | undefined> {
    const held = this.#cache?.held(object.key);
    if (held) return held.slice();
    const pending = this.#inflight.get(object.key);
    if (pending) return (await pending)?.slice();
    return this.#fetch(object);
  }

  /**
   * Notes that block `index` of a file of `count` blocks is being read; when the reads
   * run in order, fetches the following blocks that `objectOf` names (undefined:
   * nothing to fetch, e.g. a block held in memory).
   */
  noteRead(index: number, count: number, objectOf: (index: number) => BlockObject | undefined): void {
    // The block read just before, again: the next page of a block that holds several. No
    // break in the run (counting it as one left blocks of 8 to 32 KiB under 4 KiB pages
    // with no read-ahead at all: a cold scan one round trip per block).
    if (index === this.#last) return;
    this.#run = index === this.#last + 1 ? this.#run + 1 : 1;
    this.#last = index;
    if (!this.#cache || this.#run < SEQUENTIAL_TRIGGER) {
      this.#ahead = index;
      return;
    }
    const window = Math.min(MAX_WINDOW, FIRST_WINDOW << (this.#run - SEQUENTIAL_TRIGGER));
    const until = Math.min(count - 1, index + window);
    for (let next = Math.max(this.#ahead, index) + 1; next <= until && this.#aheadInFlight < MAX_AHEAD_IN_FLIGHT; next++) {
      this.#ahead = next;
      const object = objectOf(next);
      if (object === undefined || this.#inflight.has(object.key) || this.#cache.held(object.key)) continue;
      this.#aheadInFlight += 1;
      // Fire and forget: the bytes land in the cache; a failure here is met again by the real read.
      this.#fetch(object)
        .catch(() => undefined)
        .finally(() => (this.#aheadInFlight -= 1));
    }
  }

  #fetch({ key, check }: BlockObject): Promise<Uint8Array | undefined> {
    const request = this.#store
      .get(key)
      .then((bytes) => {
        if (bytes === undefined) return undefined;
        check(bytes); // damaged bytes go no further: not to the caller, not into the cache
        this.#cache?.add(key, bytes.slice());
        return bytes;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, request);
    request.catch(() => undefined); // awaited by whoever reads it; never an unhandled rejection
    return request;
  }
}
