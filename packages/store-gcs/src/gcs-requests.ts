import { createHash } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import {
  describeDelete,
  describeGet,
  describeList,
  describePut,
  forEachLimit,
  keyProblem,
  rangeProblem,
  StoreErrors,
  withRequestTimeout,
  type BlockStore,
  type BlockVfsError,
  type ByteRange,
  type ErrorKind,
  type ListEntry,
  type ListOptions,
  type PutCondition,
  type PutResult,
  type RequestTimeoutOption,
  type StoreCapabilities,
} from '@blockvfs/core/store';
import { abortHttpRequestsOn } from './abort-http-requests.js';
import { GCS_ERRORS } from './gcs-errors.js';
import type { GcsBucketLike, GcsObjectMetadata, GcsWriteOptions } from './gcs-sdk.js';

/** Names per list page: GCS's maximum. */
const LIST_PAGE = 1000;
/** Only what list needs: less JSON per page on real GCS (the test server sends everything, which is fine). */
const LIST_FIELDS = 'items(name,size,generation),nextPageToken';
const CONTENT_TYPE = 'application/octet-stream';

export interface GcsRequestsOptions {
  bucket: GcsBucketLike;
  prefix: string;
  name: string;
  deleteConcurrency: number;
  /** Per request, the body included (see GcsStoreOptions.requestTimeoutMs); false for none. */
  requestTimeoutMs: RequestTimeoutOption;
}

/** The object as read back to decide a conditional put whose outcome is unknown. */
interface ReadBack {
  generation: string;
  md5Hash: string | undefined;
  crc32c: string | undefined;
  size: number;
}

/**
 * One GCS request per BlockStore call (one DELETE per key, one list request per page),
 * with the answers mapped onto the BlockStore contract and failures classified into
 * BlockVfsError kinds. No retries here: GcsStore layers core's withRetry on top.
 *
 * The etag of an object is its generation: GCS gives every write of a name a new one,
 * and conditions on it (`ifGenerationMatch`) are what GCS enforces atomically.
 *
 * Every request runs under the request timeout (core's withRequestTimeout), until its
 * answer is read to the end; when it passes, the HTTP requests the SDK started for it
 * are destroyed (abort-http-requests.ts: the SDK takes no AbortSignal).
 */
export class GcsRequests implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities = Object.freeze({ conditionalPut: true, rangeGet: true, maxDeleteBatch: 1 });
  readonly #bucket: GcsBucketLike;
  readonly #prefix: string;
  readonly #deleteConcurrency: number;
  readonly #requestTimeoutMs: RequestTimeoutOption;
  readonly #errors: StoreErrors;
  /**
   * Conditional puts whose outcome is still unknown (a 5xx or a dropped connection,
   * then a read-back that failed or found the object untouched): key → MD5 of the
   * bytes sent. If a later attempt with the same bytes loses its condition, that may
   * be the earlier request landing late, so it reads back instead of reporting a lost race.
   */
  readonly #unresolved = new Map<string, string>();

  constructor(options: GcsRequestsOptions) {
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.name = options.name;
    this.#deleteConcurrency = options.deleteConcurrency;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#errors = new StoreErrors(GCS_ERRORS, options.name);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    this.#checkKey(key);
    if (range) this.#checkRange(range);
    // No HTTP range is empty: for length 0 ask for one byte and drop it, which still tells
    // "missing" (404) from "exists" (206, or 416 past the end).
    const length = range?.length === 0 ? 1 : range?.length;
    const ranged = range !== undefined && (range.offset > 0 || length !== undefined);
    let data: Uint8Array;
    try {
      // `end` is inclusive. Without a range the SDK checks the bytes against the object's CRC32C.
      const file = this.#bucket.file(this.#prefix + key);
      const [buffer] = await this.#timed(() =>
        file.download(ranged ? { start: range.offset, ...(length === undefined ? {} : { end: range.offset + length - 1 }) } : {}),
      );
      data = buffer;
    } catch (error) {
      if (this.#errors.isMissingKey(error)) return undefined;
      // 416: the range starts at or past the end (every range of an empty object does).
      if (GCS_ERRORS.read(error).status === 416 && ranged) return new Uint8Array(0);
      throw this.#errors.failed(describeGet(key, range), error);
    }
    if (range?.length === 0) return new Uint8Array(0);
    // A server that ignored the Range header sent the whole object: cut the range out here.
    if (ranged && length !== undefined && data.length > length) data = data.subarray(range.offset, range.offset + length);
    return ownArray(data);
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    this.#checkKey(key);
    if (!(data instanceof Uint8Array)) throw this.#error('invalid', `put "${key}": data must be a Uint8Array`);
    const ifGenerationMatch = condition ? this.#generationCondition(key, condition) : undefined;
    const what = describePut(key, condition);
    try {
      const generation = await this.#timed((signal) => this.#upload(key, data, ifGenerationMatch, signal));
      this.#unresolved.delete(key);
      return { etag: generation };
    } catch (error) {
      const kind = this.#errors.kindOf(error);
      if (!condition) throw this.#errors.failed(what, error, kind);
      // After a 5xx, a broken connection or a timeout the put may or may not have happened, and a lost
      // condition may be our own earlier attempt having landed late: read back to decide.
      const mayBeOurs = kind === 'transient' || (kind === 'precondition-failed' && this.#unresolved.get(key) === md5Base64(data));
      if (!mayBeOurs) {
        this.#unresolved.delete(key);
        throw this.#errors.failed(what, error, kind);
      }
      return this.#settleUnknownPut(key, data, condition, kind, error);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#checkKey(key);
    // The SDK's File remembers the Storage's autoRetry setting when it is made, and a
    // running delete turns that setting off for its duration; making every File before
    // the deletes start keeps one delete from restoring another's "off" for good.
    const files = [...new Set(keys)].map((key) => ({ key, file: this.#bucket.file(this.#prefix + key) }));
    await forEachLimit(files, this.#deleteConcurrency, async ({ key, file }) => {
      try {
        await this.#timed(() => file.delete());
      } catch (error) {
        if (this.#errors.isMissingKey(error)) return; // already gone: fine
        throw this.#errors.failed(describeDelete([key]), error);
      }
    });
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    if (typeof prefix !== 'string') throw this.#error('invalid', `list: the prefix must be a string, got ${JSON.stringify(prefix)}`);
    const what = describeList(prefix);
    // GCS's startOffset is inclusive: the key equal to startAfter is skipped below.
    const startAfter = options.startAfter === undefined ? undefined : this.#prefix + options.startAfter;
    let pageToken: string | undefined;
    for (;;) {
      let page: ListPage;
      try {
        // A fresh query every time: the SDK deletes autoPaginate from the object it sends.
        const query = {
          autoPaginate: false as const,
          prefix: this.#prefix + prefix,
          maxResults: LIST_PAGE,
          fields: LIST_FIELDS,
          ...(startAfter === undefined ? {} : { startOffset: startAfter }),
          ...(pageToken === undefined ? {} : { pageToken }),
        };
        const [, , response] = await this.#timed(() => this.#bucket.getFiles(query));
        page = (response ?? {}) as ListPage;
      } catch (error) {
        throw this.#errors.failed(what, error);
      }
      for (const item of page.items ?? []) {
        const name = item.name;
        if (typeof name !== 'string' || name === startAfter || !name.startsWith(this.#prefix)) continue;
        yield { key: name.slice(this.#prefix.length), size: Number(item.size ?? 0), etag: String(item.generation) };
      }
      if (!page.nextPageToken) return;
      pageToken = page.nextPageToken;
    }
  }

  /** One multipart upload request (resumable: false); resolves to the new generation. */
  async #upload(key: string, data: Uint8Array, ifGenerationMatch: string | undefined, signal: AbortSignal | undefined): Promise<string> {
    const file = this.#bucket.file(this.#prefix + key);
    // The CRC32C travels in the metadata part, and GCS refuses the upload (400) if the
    // bytes it got do not match: a corrupted upload never becomes the object. The SDK's
    // own check (validation) runs after the fact and deletes the object on a mismatch,
    // unconditionally, which could delete another writer's object: so it is off.
    const options: GcsWriteOptions = {
      resumable: false,
      validation: false,
      metadata: { contentType: CONTENT_TYPE, crc32c: crc32cBase64(data) },
      ...(ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch } }),
    };
    await new Promise<void>((resolve, reject) => {
      const stream = file.createWriteStream(options);
      stream.once('error', reject);
      stream.once('finish', resolve);
      // Its HTTP request is destroyed on abort too; a Bucket that is not the SDK's has its stream ended here.
      signal?.addEventListener('abort', () => stream.destroy(signal.reason as Error), { once: true });
      stream.end(data);
    });
    const generation = file.metadata.generation;
    if (generation === undefined || generation === '') {
      throw this.#error('permanent', `put "${key}": the server's answer has no generation`);
    }
    return String(generation);
  }

  /**
   * Decides a conditional put whose outcome is unknown by reading the object's metadata
   * back: our bytes are there (same MD5, CRC32C and size) → it happened, its generation
   * is the etag; the object is as the condition expected → it did not happen
   * (transient: safe to retry); anything else → another writer won (precondition-failed).
   * A writer that stored the very same bytes is taken for us, which leaves the object as
   * this caller wanted it.
   */
  async #settleUnknownPut(key: string, data: Uint8Array, condition: PutCondition, kind: ErrorKind, error: unknown): Promise<PutResult> {
    const what = describePut(key, condition);
    let current: ReadBack | undefined;
    try {
      current = await this.#readBack(key);
    } catch (readError) {
      this.#unresolved.set(key, md5Base64(data));
      throw this.#errors.outcomeUnknown(what, error, readError);
    }
    if (
      current &&
      current.size === data.length &&
      current.md5Hash === md5Base64(data) &&
      (current.crc32c === undefined || current.crc32c === crc32cBase64(data))
    ) {
      this.#unresolved.delete(key);
      return { etag: current.generation };
    }
    if (kind === 'precondition-failed') {
      this.#unresolved.delete(key);
      throw this.#errors.failed(what, error, kind);
    }
    const untouched = 'ifNoneMatch' in condition ? current === undefined : current?.generation === condition.ifMatch;
    if (untouched) {
      // Not there yet; the request could still land later, so a retry that loses its
      // condition must read back again.
      this.#unresolved.set(key, md5Base64(data));
      throw this.#errors.error('transient', `${what}: ${this.#errors.describe(error)}; read back: it did not take effect`, error);
    }
    this.#unresolved.delete(key);
    const found = current === undefined ? 'the key no longer exists' : `another writer replaced it (generation ${current.generation})`;
    throw this.#errors.error('precondition-failed', `${what}: ${this.#errors.describe(error)}; read back: ${found}`, error);
  }

  async #readBack(key: string): Promise<ReadBack | undefined> {
    let metadata: GcsObjectMetadata;
    try {
      const file = this.#bucket.file(this.#prefix + key);
      [metadata] = await this.#timed(() => file.getMetadata());
    } catch (error) {
      if (this.#errors.isMissingKey(error)) return undefined;
      throw error;
    }
    return { generation: String(metadata.generation), md5Hash: metadata.md5Hash, crc32c: metadata.crc32c, size: Number(metadata.size ?? -1) };
  }

  /** `ifGenerationMatch` for a condition: 0 = "no live object", else the etag (a generation). */
  #generationCondition(key: string, condition: PutCondition): string {
    if ('ifNoneMatch' in condition && condition.ifNoneMatch === '*') return '0';
    if ('ifMatch' in condition && typeof condition.ifMatch === 'string') {
      // Every etag this store hands out is a generation: a positive decimal integer. Anything
      // else cannot be the current object's, so the condition fails without asking.
      if (!/^[1-9]\d*$/.test(condition.ifMatch)) {
        throw this.#error('precondition-failed', `put "${key}" if it still has etag ${condition.ifMatch}: not a generation, so not the object's etag`);
      }
      return condition.ifMatch;
    }
    throw this.#error('invalid', `put "${key}": unknown condition ${JSON.stringify(condition)}`);
  }

  #checkKey(key: string): void {
    const problem = keyProblem(key);
    if (problem) throw this.#error('invalid', problem);
  }

  #checkRange(range: ByteRange): void {
    const problem = rangeProblem(range);
    if (problem) throw this.#error('invalid', problem);
  }

  /** One request under the request timeout; `run` gets the attempt's AbortSignal, and the HTTP requests it starts abort with it. */
  #timed<T>(run: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return withRequestTimeout(this.#requestTimeoutMs, (signal) => abortHttpRequestsOn(signal, () => run(signal)));
  }

  #error(kind: ErrorKind, message: string): BlockVfsError {
    return this.#errors.error(kind, message);
  }
}

interface ListPage {
  items?: { name?: unknown; size?: string | number; generation?: string | number }[];
  nextPageToken?: string;
}

function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

function crc32cBase64(data: Uint8Array): string {
  const crc32c = new CRC32C();
  crc32c.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return crc32c.toString();
}

/**
 * A plain Uint8Array the caller owns: the SDK's Buffer may be a slice of a larger
 * pooled one, whose other bytes are none of the caller's business.
 */
function ownArray(data: Uint8Array): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return new Uint8Array(data.buffer, 0, data.byteLength);
  return new Uint8Array(data);
}
