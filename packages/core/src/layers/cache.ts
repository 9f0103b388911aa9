import { LRUCache } from 'lru-cache';
import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { BlockVfsError } from '../errors.js';

export interface CacheOptions {
  /** The most bytes of object data held (object sizes; a zero-length object counts as 1). */
  maxBytes: number;
}

export interface CacheStats {
  /** `get` calls answered from the cache. */
  readonly hits: number;
  /** `get` calls that went to the store. */
  readonly misses: number;
  /** Objects held. */
  readonly entries: number;
  /** Bytes held (at most `maxBytes`). */
  readonly bytes: number;
  /** Drops every cached object (the counters stay). */
  clear(): void;
  /**
   * The cached bytes of `key` without a request or a copy (a hit, and most recently
   * used from then on), or undefined when not cached. Never change them: they are the
   * cache's own. For callers that must answer at once (a VFS read served from memory).
   */
  held(key: string): Uint8Array | undefined;
  /**
   * Keeps `bytes` as the object `key`, fetched by the caller from the store underneath
   * (counted as a miss): for a caller that checks what it fetched before anyone may
   * read it from memory. The cache owns `bytes` from then on.
   */
  add(key: string, bytes: Uint8Array): void;
  /** Sets `hits` and `misses` back to zero. */
  resetStats(): void;
}

export type CachedStore = BlockStore & { readonly cache: CacheStats };

/** Whether `store` is a withCache wrapper (which the atomic layout must not read its head or lease through). */
export function isCachedStore(store: BlockStore): store is CachedStore {
  const cache = (store as Partial<CachedStore>).cache;
  return typeof cache === 'object' && cache !== null && typeof cache.held === 'function';
}

/**
 * Keeps whole objects read by `get` (and written by `put`) in memory, least
 * recently used first out, bounded in bytes.
 *
 * It only sees writes made through itself: another process (or another wrapper of
 * the same store) that overwrites a key leaves a stale copy here. So use it for
 * keys that are never overwritten (the atomic layout's immutable blocks) or when
 * this wrapper is the only writer.
 *
 * A ranged get is answered from a cached whole object when there is one; otherwise
 * it goes to the store and its partial result is not cached. Missing keys are not
 * cached. Every array handed out is a copy, so callers may mutate it.
 */
export function withCache(store: BlockStore, options: CacheOptions): CachedStore {
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new BlockVfsError('invalid', `cache maxBytes must be a positive integer, got ${maxBytes}`, { source: '@blockvfs/core', store: store.name });
  }
  // An object larger than maxBytes is simply not kept (lru-cache's maxEntrySize defaults to maxSize).
  const lru = new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (data) => Math.max(1, data.length) });
  /**
   * Bumped whenever a key is written or deleted through us. A get or put that started
   * before the bump must not cache what it saw: it may be older than the change.
   */
  const generations = new Map<string, number>();
  let hits = 0;
  let misses = 0;

  const generation = (key: string): number => generations.get(key) ?? 0;
  const invalidate = (key: string): number => {
    lru.delete(key);
    const next = generation(key) + 1;
    generations.set(key, next);
    return next;
  };
  /** Forget generations of keys with nothing in flight, so the map does not grow with every key ever written. */
  let inFlight = 0;
  const settle = (): void => {
    inFlight -= 1;
    if (inFlight === 0) generations.clear();
  };

  return {
    name: store.name,
    capabilities: store.capabilities,
    cache: {
      get hits() {
        return hits;
      },
      get misses() {
        return misses;
      },
      get entries() {
        return lru.size;
      },
      get bytes() {
        return lru.calculatedSize;
      },
      clear() {
        lru.clear();
      },
      held(key: string) {
        const cached = lru.get(key);
        if (cached) hits += 1;
        return cached;
      },
      add(key: string, bytes: Uint8Array) {
        misses += 1;
        if (generation(key) === 0) lru.set(key, bytes); // else a put or delete of it is in flight through here: not knowing which lands last, keep nothing
      },
      resetStats() {
        hits = 0;
        misses = 0;
      },
    },
    async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      const cached = lru.get(key);
      if (cached) {
        hits += 1;
        if (!range) return cached.slice();
        return cached.slice(range.offset, range.length === undefined ? undefined : range.offset + range.length);
      }
      misses += 1;
      const started = generation(key);
      inFlight += 1;
      try {
        const data = await store.get(key, range);
        if (data && !range && generation(key) === started) lru.set(key, data.slice());
        return data;
      } finally {
        settle();
      }
    },
    async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      const copy = data.slice(); // the caller may reuse its buffer once we return, or even before
      const mine = invalidate(key);
      inFlight += 1;
      try {
        const result = await store.put(key, data, condition);
        if (generation(key) === mine) lru.set(key, copy);
        return result;
      } catch (error) {
        // Failed (a lost condition, or a timeout on a put that may have happened): we no longer know what is stored.
        invalidate(key);
        throw error;
      } finally {
        settle();
      }
    },
    async delete(keys: readonly string[]): Promise<void> {
      for (const key of keys) invalidate(key);
      inFlight += 1;
      try {
        await store.delete(keys);
      } finally {
        // A get that started during the delete may have cached the old bytes: drop them.
        for (const key of keys) invalidate(key);
        settle();
      }
    },
    list(prefix: string, listOptions?: ListOptions): AsyncIterable<ListEntry> {
      return store.list(prefix, listOptions);
    },
  };
}
