import { BlockVfsError, withCache, type BlockStore, type ByteRange, type CacheOptions, type CacheStats, type ListEntry, type ListOptions, type PutCondition, type PutResult, type StoreCapabilities } from '@blockvfs/core';
import { AzureBlobRequests } from './azure-blob-requests.js';
import type { AzureContainer } from './container.js';
import { SOURCE } from './keys.js';

export interface AzureBlobStoreOptions {
  /** The container the blobs live in: a `ContainerClient` from `@azure/storage-blob`, with the credential and retry policy you chose. It must exist. */
  container: AzureContainer;
  /** Prepended to every key, verbatim (end it with `/` for a folder): several stores can share a container. Default none. */
  prefix?: string;
  /**
   * Keep recently read and written objects in memory (core's `withCache`). Only safe
   * when nothing else overwrites these keys: the atomic layout's immutable blocks, or a
   * single writer. Default: no cache.
   */
  cache?: CacheOptions;
}

/**
 * A BlockStore on Azure Blob Storage: each key is a block blob named `<prefix><key>`.
 * Ranged reads, conditional puts (`ifNoneMatch: '*'`, `ifMatch`), batch deletes of up
 * to 256 blobs per request, and paged listing in key order.
 *
 * Errors are `BlockVfsError`s whose message starts with
 * `@blockvfs/store-azure (azure://account/container/prefix)`, the SDK's error as
 * `cause`. Retries are not done here: the SDK client retries by its own policy, and
 * core's `withRetry` retries what this store reports as `transient`.
 */
export class AzureBlobStore implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly prefix: string;
  readonly container: AzureContainer;
  /** The cache's counters when the `cache` option was given, else undefined. */
  readonly cache: CacheStats | undefined;
  readonly #store: BlockStore;

  constructor(options: AzureBlobStoreOptions) {
    const { container, prefix = '' } = options ?? ({} as AzureBlobStoreOptions);
    if (!container || typeof container.getBlockBlobClient !== 'function' || typeof container.listBlobsFlat !== 'function') {
      throw new BlockVfsError('invalid', '"container" must be a ContainerClient from @azure/storage-blob', { source: SOURCE });
    }
    if (typeof prefix !== 'string') throw new BlockVfsError('invalid', '"prefix" must be a string', { source: SOURCE });
    this.container = container;
    this.prefix = prefix;
    this.name = `azure://${container.accountName}/${container.containerName}${prefix ? `/${prefix}` : ''}`;
    const requests = new AzureBlobRequests(container, prefix, this.name);
    this.capabilities = requests.capabilities;
    // The cache is core's layer wrapped around the request-making store, kept inside so that
    // `new AzureBlobStore({ cache })` is all a user writes and `instanceof` still holds.
    if (options.cache) {
      const cached = withCache(requests, options.cache);
      this.#store = cached;
      this.cache = cached.cache;
    } else {
      this.#store = requests;
      this.cache = undefined;
    }
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
