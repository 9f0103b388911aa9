import { BlockVfsError, DEFAULT_REQUEST_TIMEOUT_MS, LayeredStore, requestTimeoutProblem, type RequestTimeoutOption, type RetryOptions } from '@blockvfs/core/store';
import type { GcsBucketLike } from './gcs-bucket.js';
import { GcsRequests, SOURCE } from './gcs-requests.js';

/** Deletes sent at once by default (GCS's JSON API deletes one object per request). */
export const DEFAULT_DELETE_CONCURRENCY = 32;

export interface GcsStoreOptions {
  /** A `Bucket` from `@google-cloud/storage` (`new Storage(...).bucket(name)`), configured by you; it must exist. */
  bucket: GcsBucketLike;
  /** Prepended to every object name (default ''); `list` strips it again. Include the trailing `/` if you want one. */
  prefix?: string;
  /**
   * Retrying of transient failures (core's withRetry: throttling, 5xx, dropped
   * connections, timeouts), with exponential backoff and jitter. On by default with
   * withRetry's defaults; `false` turns it off.
   */
  retry?: RetryOptions | false;
  /**
   * How long one attempt may take, in milliseconds (default 30 000), reading the
   * answer's body included; `false` for no limit. When it passes, the attempt's HTTP
   * requests are destroyed (their sockets closed) and the attempt fails `transient`,
   * which `retry` retries, each retry with a timeout of its own. One attempt is one SDK
   * call, the SDK's own retries (`retryOptions`) included: they share the attempt's
   * time, and the timeout ends them.
   */
  requestTimeoutMs?: RequestTimeoutOption;
  /** Object deletes in flight at once during one `delete` call (default 32). */
  deleteConcurrency?: number;
}

/**
 * A BlockStore on a Google Cloud Storage bucket, over `@google-cloud/storage`.
 *
 * Built like the other cloud stores: GcsRequests (one GCS request per call, errors
 * classified into BlockVfsError kinds), core's withRetry on top of it (unless
 * `retry: false`). So
 * `new GcsStore(...)` is ready to use as it is, and other layers (withMetrics,
 * withLatency) wrap it from outside like any BlockStore; a withMetrics around it
 * counts calls, not attempts.
 *
 * Etags are object generations; conditional puts are `ifGenerationMatch` (0 for
 * create-if-absent), which GCS enforces atomically.
 *
 * The SDK retries some requests on its own (reads, lists; never the single-request
 * uploads this store sends). For one retry policy only, create the `Storage` with
 * `retryOptions: { autoRetry: false }`, or pass `retry: false`.
 *
 * Each attempt runs under `requestTimeoutMs` (30 s by default), so a server that
 * accepts connections and never answers fails a call after (retries + 1) timeouts
 * plus the backoff between them, instead of hanging it.
 */
export class GcsStore extends LayeredStore {
  readonly bucket: string;
  readonly prefix: string;

  constructor(options: GcsStoreOptions) {
    const { bucket } = options ?? ({} as Partial<GcsStoreOptions>);
    const prefix = options?.prefix ?? '';
    const deleteConcurrency = options?.deleteConcurrency ?? DEFAULT_DELETE_CONCURRENCY;
    const invalid = (message: string) => new BlockVfsError('invalid', message, { source: SOURCE });
    if (!bucket || typeof bucket.file !== 'function' || typeof bucket.getFiles !== 'function') {
      throw invalid('"bucket" must be a Bucket from @google-cloud/storage (new Storage().bucket(name))');
    }
    if (typeof bucket.name !== 'string' || bucket.name.length === 0) throw invalid('"bucket" has no name');
    if (typeof prefix !== 'string') throw invalid('"prefix" must be a string');
    if (!Number.isSafeInteger(deleteConcurrency) || deleteConcurrency < 1) throw invalid(`"deleteConcurrency" must be a positive integer, got ${deleteConcurrency}`);
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const timeoutProblem = requestTimeoutProblem(requestTimeoutMs);
    if (timeoutProblem) throw invalid(timeoutProblem);
    const name = `gs://${bucket.name}/${prefix}`;
    super(new GcsRequests({ bucket, prefix, name, deleteConcurrency, requestTimeoutMs }), options);
    this.bucket = bucket.name;
    this.prefix = prefix;
  }
}
