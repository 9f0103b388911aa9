import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from '../block-store.js';
import { withCache, type CacheOptions, type CacheStats } from './cache.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface StoreLayerOptions {
  /** core's withRetry around the requests (its defaults when omitted); `false` for none. */
  retry?: RetryOptions | false;
  /** core's withCache on top, when given. */
  cache?: CacheOptions;
}

/**
 * Base class of a store that is one object for its user (`new S3Store({ cache })`) yet
 * gets its retrying and caching from core's layers, stacked once over a store that only
 * makes requests: requests, then withRetry, then withCache. Outer layers (withMetrics,
 * withLatency) wrap it like any BlockStore, so they count calls, not retried attempts.
 */
export abstract class LayeredStore implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** Hit and miss counts of the cache, when one was asked for. */
  readonly cache: CacheStats | undefined;
  readonly #store: BlockStore;

  protected constructor(requests: BlockStore, options: StoreLayerOptions) {
    let store = options.retry === false ? requests : withRetry(requests, options.retry);
    if (options.cache) {
      const cached = withCache(store, options.cache);
      this.cache = cached.cache;
      store = cached;
    }
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
