import { BlockVfsError, LayeredStore } from '@blockvfs/core';
import { AzureBlobRequests } from './azure-blob-requests.js';
import type { AzureContainer } from './container.js';
import { SOURCE } from './keys.js';

export interface AzureBlobStoreOptions {
  /** The container the blobs live in: a `ContainerClient` from `@azure/storage-blob`, with the credential and retry policy you chose. It must exist. */
  container: AzureContainer;
  /** Prepended to every key, verbatim (end it with `/` for a folder): several stores can share a container. Default none. */
  prefix?: string;
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
export class AzureBlobStore extends LayeredStore {
  readonly prefix: string;
  readonly container: AzureContainer;

  constructor(options: AzureBlobStoreOptions) {
    const { container, prefix = '' } = options ?? ({} as AzureBlobStoreOptions);
    if (!container || typeof container.getBlockBlobClient !== 'function' || typeof container.listBlobsFlat !== 'function') {
      throw new BlockVfsError('invalid', '"container" must be a ContainerClient from @azure/storage-blob', { source: SOURCE });
    }
    if (typeof prefix !== 'string') throw new BlockVfsError('invalid', '"prefix" must be a string', { source: SOURCE });
    const name = `azure://${container.accountName}/${container.containerName}${prefix ? `/${prefix}` : ''}`;
    // No withRetry by default: the SDK client retries by the policy its creator gave it.
    super(new AzureBlobRequests(container, prefix, name), { retry: false, cache: (options as { cache?: unknown }).cache });
    this.container = container;
    this.prefix = prefix;
  }
}
