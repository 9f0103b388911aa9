import { BlockVfsError, DEFAULT_REQUEST_TIMEOUT_MS, LayeredStore, requestTimeoutProblem, type RequestTimeoutOption, type RetryOptions } from '@blockvfs/core/store';
import { AzureBlobRequests } from './azure-blob-requests.js';
import type { AzureContainer } from './container.js';
import { SOURCE } from './keys.js';

export interface AzureBlobStoreOptions {
  /** The container the blobs live in: a `ContainerClient` from `@azure/storage-blob`, with the credential and retry policy you chose. It must exist. */
  container: AzureContainer;
  /** Prepended to every key, verbatim (end it with `/` for a folder): several stores can share a container. Default none. */
  prefix?: string;
  /**
   * How long one attempt may take, in milliseconds (default 30 000), reading the
   * answer's body included; `false` for no limit. When it passes, the request is
   * aborted (the SDK closes its connection) and the attempt fails `transient`. One
   * attempt is one SDK call, the SDK's own retries (its retry policy) included: they
   * share the attempt's time, and the abort ends them, so the SDK never retries a
   * timed-out call; `retry` does.
   */
  requestTimeoutMs?: RequestTimeoutOption;
  /**
   * Core's withRetry around the requests (throttling, 5xx, dropped connections,
   * timeouts, an unknown outcome), with exponential backoff and jitter: on by default,
   * as in the other cloud stores (`false` turns it off). It retries what the SDK does
   * not, such as timed-out calls. One attempt is one SDK call, the SDK's own retry
   * policy included; for one policy only, give the client `retryOptions: { maxTries: 1 }`,
   * or pass `retry: false`.
   */
  retry?: RetryOptions | false;
}

/**
 * A BlockStore on Azure Blob Storage: each key is a block blob named `<prefix><key>`.
 * Ranged reads, conditional puts (`ifNoneMatch: '*'`, `ifMatch`), batch deletes of up
 * to 256 blobs per request, and paged listing in key order.
 *
 * Errors are `BlockVfsError`s whose message starts with
 * `@blockvfs/store-azure (azure://account/container/prefix)`, the SDK's error as
 * `cause`. Core's `withRetry` retries what this store reports as `transient` (unless
 * `retry: false`), on top of the SDK client's own retry policy.
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
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const timeoutProblem = requestTimeoutProblem(requestTimeoutMs);
    if (timeoutProblem) throw new BlockVfsError('invalid', timeoutProblem, { source: SOURCE });
    const name = `azure://${container.accountName}/${container.containerName}${prefix ? `/${prefix}` : ''}`;
    super(new AzureBlobRequests(container, prefix, name, requestTimeoutMs), {
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      cache: (options as { cache?: unknown }).cache,
    });
    this.container = container;
    this.prefix = prefix;
  }
}
