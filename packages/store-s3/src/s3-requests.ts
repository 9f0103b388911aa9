import { createHash } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type PutObjectCommandInput } from '@aws-sdk/client-s3';
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
import { withContentMd5 } from './content-md5.js';
import { S3_ERRORS, sdkAttempts } from './s3-errors.js';
import { bareEtag, type S3ClientLike } from './s3-sdk.js';

/** S3's limit on keys per DeleteObjects request. */
export const MAX_DELETE_BATCH = 1000;
/** Delete batches sent at once: a big cleanup finishes sooner without flooding the server. */
const DELETE_CONCURRENCY = 4;

export interface S3RequestsOptions {
  client: S3ClientLike;
  bucket: string;
  prefix: string;
  conditionalWrites: boolean;
  name: string;
  /** Per request, the body included (see S3StoreOptions.requestTimeoutMs); false for none. */
  requestTimeoutMs: RequestTimeoutOption;
}

interface StoredObject {
  data: Uint8Array;
  etag: string | undefined;
}

/**
 * One S3 request per BlockStore call (a DeleteObjects per 1000 keys, a ListObjectsV2
 * per page), with the answers mapped onto the BlockStore contract and the failures
 * classified into BlockVfsError kinds. No retries here: S3Store layers core's
 * withRetry on top.
 *
 * Every request runs under the request timeout (core's withRequestTimeout): `send`
 * gets its AbortSignal, and a GET's body is read under the same timeout, so a server
 * that stalls before or during its answer costs one timeout, a `transient` error.
 */
export class S3Requests implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly #client: S3ClientLike;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #requestTimeoutMs: RequestTimeoutOption;
  readonly #errors: StoreErrors;
  /**
   * Conditional puts whose outcome is still unknown (a 5xx or a dropped connection,
   * then a read-back that failed or found the old object): key → MD5 of the bytes we
   * sent. If a later attempt with the same bytes loses its condition, that may be to
   * the earlier attempt landing late, so it reads back instead of reporting a lost race.
   */
  readonly #unresolved = new Map<string, string>();

  constructor(options: S3RequestsOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.name = options.name;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#errors = new StoreErrors(S3_ERRORS, options.name);
    this.capabilities = Object.freeze({ conditionalPut: options.conditionalWrites, rangeGet: true, maxDeleteBatch: MAX_DELETE_BATCH });
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    this.#checkKey(key);
    if (range) this.#checkRange(range);
    // An empty range cannot be written as an HTTP range: ask for one byte and drop it, which
    // still answers "missing" (404) apart from "exists" (206, or 416 past the end).
    const wanted = range && range.length === 0 ? { offset: range.offset, length: 1 } : range;
    const object = await this.#getObject(key, wanted, describeGet(key, range));
    if (object === undefined || range?.length === 0) return object && new Uint8Array(0);
    return object.data;
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    this.#checkKey(key);
    if (!(data instanceof Uint8Array)) throw this.#error('invalid', `put "${key}": data must be a Uint8Array`);
    if (condition && !this.capabilities.conditionalPut) {
      throw this.#error('invalid', `put "${key}" with a condition: this store was created with conditionalWrites: false, so it cannot honour one`);
    }
    const input: PutObjectCommandInput = { Bucket: this.#bucket, Key: this.#prefix + key, Body: data, ContentLength: data.length };
    if (condition && 'ifNoneMatch' in condition) input.IfNoneMatch = '*';
    if (condition && 'ifMatch' in condition) input.IfMatch = bareEtag(condition.ifMatch);
    try {
      const output = await this.#timed((abortSignal) => this.#client.send(new PutObjectCommand(input), { abortSignal }));
      this.#unresolved.delete(key);
      // A single-part PUT's ETag is the MD5 of the body; a server that omits it gets that.
      return { etag: output.ETag ? bareEtag(output.ETag) : md5Hex(data) };
    } catch (error) {
      const kind = this.#errors.kindOf(error);
      if (!condition) throw this.#errors.failed(describePut(key), error, kind);
      // After a 5xx, a broken connection or a timeout the put may or may not have happened. A lost
      // condition may be our own earlier attempt (the SDK's retry, or one of ours after an
      // unknown outcome) having landed. Both are settled by reading the object back.
      const mayBeOurs = kind === 'transient' || (kind === 'precondition-failed' && (sdkAttempts(error) > 1 || this.#unresolved.get(key) === md5Hex(data)));
      if (!mayBeOurs) {
        this.#unresolved.delete(key);
        throw this.#errors.failed(describePut(key, condition), error, kind);
      }
      return this.#settleUnknownPut(key, data, condition, kind, error);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#checkKey(key);
    const batches: string[][] = [];
    for (let start = 0; start < keys.length; start += MAX_DELETE_BATCH) batches.push(keys.slice(start, start + MAX_DELETE_BATCH));
    await forEachLimit(batches, DELETE_CONCURRENCY, (batch) => this.#deleteBatch(batch));
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    if (typeof prefix !== 'string') throw this.#error('invalid', `list: the prefix must be a string, got ${JSON.stringify(prefix)}`);
    const what = describeList(prefix);
    // Pages continue after the last key seen (StartAfter) rather than with the continuation
    // token: it means the same on every S3 implementation, and a listing can resume from it.
    let startAfter = options.startAfter === undefined ? undefined : this.#prefix + options.startAfter;
    let continuationToken: string | undefined;
    for (;;) {
      let page;
      const command = new ListObjectsV2Command({
        Bucket: this.#bucket,
        Prefix: this.#prefix + prefix,
        MaxKeys: 1000,
        ...(continuationToken ? { ContinuationToken: continuationToken } : startAfter === undefined ? {} : { StartAfter: startAfter }),
      });
      try {
        // The SDK reads and parses the whole page inside `send`, so the timeout covers it.
        page = await this.#timed((abortSignal) => this.#client.send(command, { abortSignal }));
      } catch (error) {
        throw this.#errors.failed(what, error);
      }
      const contents = page.Contents ?? [];
      for (const object of contents) {
        if (object.Key === undefined || !object.Key.startsWith(this.#prefix)) continue;
        const entry: ListEntry = { key: object.Key.slice(this.#prefix.length), size: object.Size ?? 0 };
        if (object.ETag) entry.etag = bareEtag(object.ETag);
        yield entry;
      }
      if (!page.IsTruncated) return;
      const last = contents.at(-1)?.Key;
      if (last !== undefined) {
        startAfter = last;
        continuationToken = undefined;
      } else if (page.NextContinuationToken) {
        continuationToken = page.NextContinuationToken; // a truncated page without keys: only the token moves on
      } else {
        throw this.#error('permanent', `${what}: the server said the listing goes on but gave no key or token to continue from`);
      }
    }
  }

  /**
   * A GET: the object's bytes (the range of them) and its etag, or undefined when there
   * is no such key. The request and the reading of its body share one timeout.
   */
  async #getObject(key: string, range: ByteRange | undefined, what: string): Promise<StoredObject | undefined> {
    try {
      return await this.#timed((abortSignal) => this.#readObject(key, range, what, abortSignal));
    } catch (error) {
      throw this.#errors.failed(what, error); // the request timeout; the rest are BlockVfsErrors already
    }
  }

  async #readObject(key: string, range: ByteRange | undefined, what: string, abortSignal: AbortSignal | undefined): Promise<StoredObject | undefined> {
    const header = rangeHeader(range);
    let output;
    try {
      const command = new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, ...(header ? { Range: header } : {}) });
      output = await this.#client.send(command, { abortSignal });
    } catch (error) {
      if (this.#errors.isMissingKey(error)) return undefined;
      // 416: the range starts at or past the end (an empty object has no satisfiable range at all).
      const { status, code } = S3_ERRORS.read(error);
      if (code === 'InvalidRange' || status === 416) return { data: new Uint8Array(0), etag: undefined };
      throw this.#errors.failed(what, error);
    }
    const body = output.Body;
    // The SDK aborts the request when the signal fires, which ends the body too; a
    // client that ignores the signal has its body stream destroyed here instead.
    abortSignal?.addEventListener('abort', () => (body as { destroy?: (error?: Error) => void } | undefined)?.destroy?.(), { once: true });
    let data: Uint8Array;
    try {
      data = body ? await body.transformToByteArray() : new Uint8Array(0);
    } catch (error) {
      // The connection broke while the body was streaming.
      throw this.#errors.failed(`${what} (reading the body)`, error, 'transient');
    }
    // A server that ignores Range answers 200 with the whole object: cut the range out here.
    if (range && header && output.ContentRange === undefined) {
      data = data.subarray(range.offset, range.length === undefined ? undefined : range.offset + range.length);
    }
    return { data, etag: output.ETag ? bareEtag(output.ETag) : undefined };
  }

  /**
   * Decides a conditional put whose outcome is unknown by reading the object back:
   * our bytes are there → it happened (we return the stored etag); the object is as
   * before → it did not happen (transient: safe to retry); something else is there →
   * another writer won (precondition-failed).
   *
   * "Our bytes are there" compares the bytes, not only the etag, since an etag is an
   * MD5 only for unencrypted single-part objects. A writer that stored the very same
   * bytes is taken for us, which leaves the object as this caller wanted it.
   */
  async #settleUnknownPut(key: string, data: Uint8Array, condition: PutCondition, kind: ErrorKind, error: unknown): Promise<PutResult> {
    const what = describePut(key, condition);
    let current: StoredObject | undefined;
    try {
      current = await this.#getObject(key, undefined, `${what}: reading it back`);
    } catch (readError) {
      this.#unresolved.set(key, md5Hex(data));
      throw this.#errors.outcomeUnknown(what, error, readError);
    }
    if (current && sameBytes(current.data, data)) {
      this.#unresolved.delete(key);
      return { etag: current.etag ?? md5Hex(data) };
    }
    if (kind === 'precondition-failed') {
      this.#unresolved.delete(key);
      throw this.#errors.failed(what, error, kind);
    }
    const untouched = 'ifNoneMatch' in condition ? current === undefined : current !== undefined && current.etag === bareEtag(condition.ifMatch);
    if (untouched) {
      // Not there yet; a request still in flight could land later, so a retry that loses
      // its condition must read back again.
      this.#unresolved.set(key, md5Hex(data));
      throw this.#errors.error('transient', `${what}: ${this.#errors.describe(error)}; read back: it did not take effect`, error);
    }
    this.#unresolved.delete(key);
    const found = current === undefined ? 'the key no longer exists' : `another writer replaced it (etag ${current.etag ?? 'unknown'})`;
    throw this.#errors.error('precondition-failed', `${what}: ${this.#errors.describe(error)}; read back: ${found}`, error);
  }

  async #deleteBatch(keys: readonly string[]): Promise<void> {
    const what = describeDelete(keys);
    let output;
    try {
      const command = new DeleteObjectsCommand({
        Bucket: this.#bucket,
        Delete: { Objects: keys.map((key) => ({ Key: this.#prefix + key })), Quiet: true },
      });
      output = await this.#timed((abortSignal) => this.#client.send(withContentMd5(command), { abortSignal }));
    } catch (error) {
      throw this.#errors.failed(what, error);
    }
    // DeleteObjects answers 200 even when some keys failed: those are listed in Errors.
    const failed = (output.Errors ?? []).filter((entry) => entry.Code !== 'NoSuchKey');
    if (failed.length === 0) return;
    const first = failed[0];
    const shown = failed
      .slice(0, 3)
      .map((entry) => `"${(entry.Key ?? '').slice(this.#prefix.length)}" (${entry.Code ?? 'Error'}${entry.Message ? `: ${entry.Message}` : ''})`)
      .join(', ');
    const kind = this.#errors.kindOf({ Code: first?.Code, $metadata: {} });
    throw this.#errors.error(kind, `${what}: ${failed.length} of ${keys.length} keys were not deleted: ${shown}${failed.length > 3 ? ', …' : ''}`, failed);
  }

  #checkKey(key: string): void {
    const problem = keyProblem(key);
    if (problem) throw this.#error('invalid', problem);
  }

  #checkRange(range: ByteRange): void {
    const problem = rangeProblem(range);
    if (problem) throw this.#error('invalid', problem);
  }

  /** One request under the request timeout; `run` gets the AbortSignal to pass to `send`. */
  #timed<T>(run: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return withRequestTimeout(this.#requestTimeoutMs, run);
  }

  #error(kind: ErrorKind, message: string): BlockVfsError {
    return this.#errors.error(kind, message);
  }
}

/** The HTTP Range header for a range, or undefined when it covers the whole object. */
function rangeHeader(range: ByteRange | undefined): string | undefined {
  if (!range || (range.offset === 0 && range.length === undefined)) return undefined;
  return range.length === undefined ? `bytes=${range.offset}-` : `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
