import { BlockVfsError, LayeredStore, resolveRequestTimeout, type CloudStoreOptions } from '@blockvfs/core/store';
import { SOURCE } from './gcs-errors.js';
import { GcsRequests } from './gcs-requests.js';
import type { GcsBucketLike } from './gcs-sdk.js';

/** Deletes sent at once by default (GCS's JSON API deletes one object per request). */
export const DEFAULT_DELETE_CONCURRENCY = 32;

/** GcsStore's options: `retry` and `requestTimeoutMs` as every cloud store takes them (CloudStoreOptions), and GCS's own. */
export interface GcsStoreOptions extends CloudStoreOptions {
  /** A `Bucket` from `@google-cloud/storage` (`new Storage(...).bucket(name)`), configured by you; it must exist. */
  bucket: GcsBucketLike;
  /** Prepended to every object name (default ''); `list` strips it again. Include the trailing `/` if you want one. */
  prefix?: string;
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
    if (!Number.isSafeInteger(deleteConcurrency) || deleteConcurrency < 1)
      throw invalid(`"deleteConcurrency" must be a positive integer, got ${deleteConcurrency}`);
    const requestTimeoutMs = resolveRequestTimeout(options, SOURCE);
    const name = `gs://${bucket.name}/${prefix}`;
    super(new GcsRequests({ bucket, prefix, name, deleteConcurrency, requestTimeoutMs }), options);
    this.bucket = bucket.name;
    this.prefix = prefix;
  }
}
