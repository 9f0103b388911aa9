import { withRequestTimeout, type BlockStore, type ByteRange, type ListEntry, type ListOptions, type PutCondition, type PutResult, type RequestTimeoutOption, type StoreCapabilities } from '@blockvfs/core/store';
import { isAzureError, toStoreError } from './azure-errors.js';
import { conditionalPut, requireEtag, type UnresolvedPuts } from './conditional-put.js';
import type { AzureContainer } from './container.js';
import { deleteBlobs, MAX_BATCH_DELETE } from './delete-blobs.js';
import { normaliseEtag } from './etag.js';
import { checkKey, checkRange } from './keys.js';
import { listBlobs } from './list-blobs.js';
import { readBody } from './read-body.js';

/**
 * The BlockStore that talks to Azure: one SDK call per request.
 *
 * Every request runs under the request timeout (core's withRequestTimeout): the SDK
 * call gets its AbortSignal as `abortSignal`, and a download's body is read under the
 * same timeout, so a service that stalls before or during its answer costs one
 * timeout, a `transient` error. The abort also ends the SDK's own retries of the call.
 */
export class AzureBlobRequests implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: MAX_BATCH_DELETE };
  readonly #container: AzureContainer;
  readonly #prefix: string;
  readonly #requestTimeoutMs: RequestTimeoutOption;
  /** Conditional puts whose outcome is still unknown (see UnresolvedPuts). */
  readonly #unresolved: UnresolvedPuts = new Map();

  constructor(container: AzureContainer, prefix: string, name: string, requestTimeoutMs: RequestTimeoutOption) {
    this.#container = container;
    this.#prefix = prefix;
    this.name = name;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const blob = this.#blob(key);
    if (range) checkRange(range, this.name);
    const what = `get "${key}"${range ? ` bytes ${range.offset}+${range.length ?? 'rest'}` : ''}`;
    try {
      // The SDK reads `count: 0` as "to the end": an empty range only needs to know the blob exists.
      if (range?.length === 0) {
        await withRequestTimeout(this.#requestTimeoutMs, (abortSignal) => blob.getProperties({ abortSignal }));
        return new Uint8Array(0);
      }
      // Node's download stream resumes a cut transfer with If-Match on the first response's etag,
      // so a blob replaced mid-read fails (412, transient below) instead of mixing two versions.
      return await withRequestTimeout(this.#requestTimeoutMs, async (abortSignal) => {
        const response = await blob.download(range?.offset ?? 0, range?.length, { abortSignal });
        return readBody(response.readableStreamBody, abortSignal);
      });
    } catch (error) {
      if (isAzureError(error, 404, 'BlobNotFound')) return undefined;
      // 416: the range starts at or past the end of an existing blob.
      if (isAzureError(error, 416)) return new Uint8Array(0);
      if (isAzureError(error, 412)) throw toStoreError(error, `${what} (the blob changed while it was read)`, this.name, 'transient');
      throw toStoreError(error, what, this.name);
    }
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    const blob = this.#blob(key);
    const what = `put "${key}"${condition ? ` (${'ifNoneMatch' in condition ? 'ifNoneMatch *' : `ifMatch ${condition.ifMatch}`})` : ''}`;
    // Put Blob writes the whole blob in one request (up to 5000 MiB), so readers see the
    // old bytes or the new ones; uploadData would split large data into blocks.
    if (condition) return conditionalPut(blob, data, condition, what, this.name, this.#requestTimeoutMs, key, this.#unresolved);
    try {
      const response = await withRequestTimeout(this.#requestTimeoutMs, (abortSignal) => blob.upload(data, data.length, { abortSignal }));
      return { etag: requireEtag(normaliseEtag(response.etag), what, this.name) };
    } catch (error) {
      throw toStoreError(error, what, this.name);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const names = keys.map((key) => this.#blobName(key));
    await deleteBlobs(this.#container, names, (name) => this.#keyOf(name), this.name, this.#requestTimeoutMs);
  }

  list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    return listBlobs(this.#container, {
      prefix: this.#prefix + prefix,
      startAfter: options.startAfter === undefined ? undefined : this.#prefix + options.startAfter,
      keyOf: (name) => this.#keyOf(name),
      store: this.name,
      requestTimeoutMs: this.#requestTimeoutMs,
    });
  }

  #blobName(key: string): string {
    const name = this.#prefix + key;
    checkKey(key, name, this.name);
    return name;
  }

  #blob(key: string) {
    return this.#container.getBlockBlobClient(this.#blobName(key));
  }

  #keyOf(name: string): string {
    return name.slice(this.#prefix.length);
  }
}
