import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from '../block-store.js';
import { BlockVfsError } from '../errors.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface StoreLayerOptions {
  /** core's withRetry around the requests (its defaults when omitted); `false` for none. */
  retry?: RetryOptions | false;
}

/**
 * Base class of a store that is one object for its user (`new S3Store({ retry })`) yet
 * gets its retrying from core's layer, stacked once over a store that only makes
 * requests. Outer layers (withMetrics, withLatency) wrap it like any BlockStore, so
 * they count calls, not retried attempts.
 *
 * No cache: the head and the lease of the atomic layout change in place, and a cache
 * that only sees this process's writes would serve them stale (a head going backwards).
 * The atomic layout keeps its own cache of the objects that never change (its blocks).
 */
export abstract class LayeredStore implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly #store: BlockStore;

  protected constructor(requests: BlockStore, options: StoreLayerOptions & { cache?: unknown }) {
    if (options.cache !== undefined) {
      throw new BlockVfsError(
        'invalid',
        'stores have no "cache" option any more: the atomic layout caches its blocks itself (openDatabase\'s cacheBytes), and a cache of every object served its head stale',
        { source: '@blockvfs/core', store: requests.name },
      );
    }
    const store = options.retry === false ? requests : withRetry(requests, options.retry);
    this.name = requests.name;
    this.capabilities = store.capabilities;
    this.#store = store;
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    return this.#store.get(key, range);
  }

  put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    return this.#store.put(key, data, condition);
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.#store.delete(keys);
  }

  list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry> {
    return this.#store.list(prefix, options);
  }
}
