import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { listInPages } from './list-pages.js';

/**
 * Request counters, as a provider would bill them. Counts are exact and do not
 * depend on timing, so tests and benchmarks assert them (requests per commit, per
 * cold read) where seconds would be noisy.
 */
export interface StoreMetrics {
  /** `get` requests (one per call, ranged or not). */
  get: number;
  /** `put` requests (one per call). */
  put: number;
  /** Delete requests: one per started batch of `capabilities.maxDeleteBatch` keys (none for an empty call). */
  delete: number;
  /** List requests: one per started 1000 entries; a listing that finds nothing is one request. */
  list: number;
  /** Bytes returned by `get`. */
  bytesRead: number;
  /** Bytes sent by `put` (counted when sent, whether or not the put succeeded). */
  bytesWritten: number;
  /** Keys passed to `delete`. */
  keysDeleted: number;
  /** Entries `list` yielded. */
  keysListed: number;
}

export type MeteredStore = BlockStore & {
  /** A snapshot of the counters: it does not change afterwards, so two snapshots can be subtracted. */
  readonly metrics: Readonly<StoreMetrics>;
  resetMetrics(): void;
};

function zeroMetrics(): StoreMetrics {
  return { get: 0, put: 0, delete: 0, list: 0, bytesRead: 0, bytesWritten: 0, keysDeleted: 0, keysListed: 0 };
}

/**
 * Counts the requests made to `store`. A request is counted when it is made, so a
 * failed one counts too. Wrap the layer whose traffic you want to see: outside a
 * cache it counts what callers ask for, inside it what reaches the store.
 */
export function withMetrics(store: BlockStore): MeteredStore {
  let counts = zeroMetrics();
  return {
    name: store.name,
    capabilities: store.capabilities,
    get metrics(): Readonly<StoreMetrics> {
      return Object.freeze({ ...counts });
    },
    resetMetrics(): void {
      counts = zeroMetrics();
    },
    async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      counts.get += 1;
      const data = await store.get(key, range);
      counts.bytesRead += data?.length ?? 0;
      return data;
    },
    put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      counts.put += 1;
      counts.bytesWritten += data.length;
      return store.put(key, data, condition);
    },
    delete(keys: readonly string[]): Promise<void> {
      counts.delete += deleteRequests(keys.length, store.capabilities.maxDeleteBatch);
      counts.keysDeleted += keys.length;
      return store.delete(keys);
    },
    list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry> {
      return listInPages(store.list(prefix, options), {
        before: () => {
          counts.list += 1;
        },
        entry: () => {
          counts.keysListed += 1;
        },
      });
    },
  };
}

/** The backend requests one `delete(keys)` call makes: one per started batch. */
export function deleteRequests(keyCount: number, maxDeleteBatch: number): number {
  if (keyCount === 0) return 0;
  return Math.ceil(keyCount / Math.max(1, maxDeleteBatch));
}
