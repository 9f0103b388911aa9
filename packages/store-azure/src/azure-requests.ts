import {
  describeDelete,
  describeGet,
  describePut,
  keyProblem,
  rangeProblem,
  StoreErrors,
  withRequestTimeout,
  type BlockStore,
  type ByteRange,
  type ListEntry,
  type ListOptions,
  type PutCondition,
  type PutResult,
  type RequestTimeoutOption,
  type StoreCapabilities,
} from '@blockvfs/core/store';
import { AZURE_ERRORS } from './azure-errors.js';
import { normaliseEtag, type AzureContainer } from './azure-sdk.js';
import { conditionalPut, requireEtag, type UnresolvedPuts } from './conditional-put.js';
import { deleteBlobs, MAX_BATCH_DELETE } from './delete-blobs.js';
import { listBlobs } from './list-blobs.js';
import { readBody } from './read-body.js';

/** Azure's limit on a blob name, in characters. */
export const MAX_BLOB_NAME_LENGTH = 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** `.` and `..` path segments: URL parsing would resolve them and address another blob. */
const DOT_SEGMENT = /(^|\/)\.{1,2}(\/|$)/;

/**
 * The BlockStore that talks to Azure: one SDK call per request (a Blob Batch per 256
 * deleted keys, a List Blobs per page), with the answers mapped onto the BlockStore
 * contract and the failures classified into BlockVfsError kinds (core's StoreErrors,
 * with azure-errors.ts). No retries here: AzureBlobStore layers core's withRetry on top.
 *
 * Every request runs under the request timeout (core's withRequestTimeout): the SDK
 * call gets its AbortSignal as `abortSignal`, and a download's body is read under the
 * same timeout, so a service that stalls before or during its answer costs one
 * timeout, a `transient` error. The abort also ends the SDK's own retries of the call.
 */
export class AzureRequests implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: MAX_BATCH_DELETE };
  readonly #container: AzureContainer;
  readonly #prefix: string;
  readonly #requestTimeoutMs: RequestTimeoutOption;
  readonly #errors: StoreErrors;
  /** Conditional puts whose outcome is still unknown (see UnresolvedPuts). */
  readonly #unresolved: UnresolvedPuts = new Map();

  constructor(container: AzureContainer, prefix: string, name: string, requestTimeoutMs: RequestTimeoutOption) {
    this.#container = container;
    this.#prefix = prefix;
    this.name = name;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#errors = new StoreErrors(AZURE_ERRORS, name);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const blob = this.#blob(key);
    if (range) this.#checkRange(range);
    const what = describeGet(key, range);
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
      if (this.#errors.isMissingKey(error)) return undefined;
      const { status } = AZURE_ERRORS.read(error);
      // 416: the range starts at or past the end of an existing blob.
      if (status === 416) return new Uint8Array(0);
      // A get sends no condition of the caller's: a 412 is the SDK's resumed download finding the blob replaced.
      if (status === 412) throw this.#errors.failed(`${what} (the blob changed while it was read)`, error, 'transient');
      throw this.#errors.failed(what, error);
    }
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    const blob = this.#blob(key);
    const what = describePut(key, condition);
    // Put Blob writes the whole blob in one request (up to 5000 MiB), so readers see the
    // old bytes or the new ones; uploadData would split large data into blocks.
    if (condition)
      return conditionalPut({ blob, data, condition, key, what, errors: this.#errors, requestTimeoutMs: this.#requestTimeoutMs, unresolved: this.#unresolved });
    try {
      const response = await withRequestTimeout(this.#requestTimeoutMs, (abortSignal) => blob.upload(data, data.length, { abortSignal }));
      return { etag: requireEtag(normaliseEtag(response.etag), what, this.#errors) };
    } catch (error) {
      throw this.#errors.failed(what, error);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const names = keys.map((key) => this.#blobName(key));
    await deleteBlobs(this.#container, names, {
      keyOf: (name) => this.#keyOf(name),
      describe: (names) => describeDelete(names.map((name) => this.#keyOf(name))),
      errors: this.#errors,
      requestTimeoutMs: this.#requestTimeoutMs,
    });
  }

  list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    return listBlobs(this.#container, {
      prefix: this.#prefix + prefix,
      startAfter: options.startAfter === undefined ? undefined : this.#prefix + options.startAfter,
      keyOf: (name) => this.#keyOf(name),
      errors: this.#errors,
      requestTimeoutMs: this.#requestTimeoutMs,
    });
  }

  #blobName(key: string): string {
    const name = this.#prefix + key;
    this.#checkKey(key, name);
    return name;
  }

  #blob(key: string) {
    return this.#container.getBlockBlobClient(this.#blobName(key));
  }

  #keyOf(name: string): string {
    return name.slice(this.#prefix.length);
  }

  /**
   * Refuses keys that cannot name a blob faithfully: empty, too long with the prefix,
   * with a lone surrogate (not encodable as UTF-8) or with a `.`/`..` segment (the
   * blob URL would be normalised to another name).
   */
  #checkKey(key: string, blobName: string): void {
    const invalid = (why: string) => this.#errors.error('invalid', `bad key ${JSON.stringify(key)}: ${why}`);
    const problem = keyProblem(key);
    if (problem) throw invalid(problem);
    if (blobName.length > MAX_BLOB_NAME_LENGTH) throw invalid(`with the prefix it is ${blobName.length} characters, Azure allows ${MAX_BLOB_NAME_LENGTH}`);
    if (LONE_SURROGATE.test(key)) throw invalid('it holds a lone UTF-16 surrogate');
    if (DOT_SEGMENT.test(blobName)) throw invalid('a "." or ".." path segment would be resolved away in the blob URL');
  }

  #checkRange(range: ByteRange): void {
    const problem = rangeProblem(range);
    if (problem) throw this.#errors.error('invalid', problem);
  }
}
