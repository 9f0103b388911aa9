import { BlockVfsError, LayeredStore, resolveRequestTimeout, type CloudStoreOptions } from '@blockvfs/core/store';
import { SOURCE } from './azure-errors.js';
import { AzureRequests } from './azure-requests.js';
import type { AzureContainer } from './azure-sdk.js';

/** AzureBlobStore's options: `retry` and `requestTimeoutMs` as every cloud store takes them (CloudStoreOptions), and Azure's own. */
export interface AzureBlobStoreOptions extends CloudStoreOptions {
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
 * `cause`. Core's `withRetry` retries what this store reports as `transient` (unless
 * `retry: false`), on top of the SDK client's own retry policy; one attempt is one SDK
 * call, that policy's tries included. For one retry policy only, give the client
 * `retryOptions: { maxTries: 1 }`, or pass `retry: false`.
 *
 * Each attempt runs under `requestTimeoutMs` (30 s by default), so a service that
 * accepts connections and never answers fails a call after a timeout per attempt
 * instead of hanging it.
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
    const requestTimeoutMs = resolveRequestTimeout(options, SOURCE);
    const name = `azure://${container.accountName}/${container.containerName}${prefix ? `/${prefix}` : ''}`;
    super(new AzureRequests(container, prefix, name, requestTimeoutMs), options);
    this.container = container;
    this.prefix = prefix;
  }
}
