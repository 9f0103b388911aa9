import { BlockVfsError, LayeredStore, resolveRequestTimeout, type CloudStoreOptions } from '@blockvfs/core/store';
import { SOURCE } from './s3-errors.js';
import { S3Requests } from './s3-requests.js';
import type { S3ClientLike } from './s3-sdk.js';

/** S3Store's options: `retry` and `requestTimeoutMs` as every cloud store takes them (CloudStoreOptions), and S3's own. */
export interface S3StoreOptions extends CloudStoreOptions {
  /** An `S3Client` from `@aws-sdk/client-s3` v3, configured by you (region, credentials, endpoint, `forcePathStyle`). */
  client: S3ClientLike;
  /** The bucket; it must exist. */
  bucket: string;
  /** Prepended to every key (default ''); `list` strips it again. Include the trailing `/` if you want one. */
  prefix?: string;
  /**
   * Whether the server enforces `If-None-Match: *` and `If-Match` on PUT (default true:
   * AWS S3 since 2024, Ceph RGW, recent MinIO). Set false for a server that ignores them:
   * the store then announces `conditionalPut: false` and refuses conditional puts,
   * instead of letting them overwrite silently.
   */
  conditionalWrites?: boolean;
}

/**
 * A BlockStore on an S3 bucket (AWS S3 or an S3-compatible server), over
 * `@aws-sdk/client-s3` v3.
 *
 * Built from two parts: S3Requests (one S3 request per call, errors classified into
 * BlockVfsError kinds) and core's withRetry on top of it (unless `retry: false`). So
 * `new S3Store(...)` is ready to use as it is, and other layers (withMetrics,
 * withLatency) wrap it from outside like any BlockStore. Retries sit below any outer
 * layer, so a withMetrics around the store counts calls, not attempts.
 *
 * The SDK client retries on its own too (`maxAttempts`, default 3); each of its
 * sends, retries included, is one attempt here. For one retry policy only, create
 * the client with `maxAttempts: 1`, or pass `retry: false`.
 *
 * Each attempt runs under `requestTimeoutMs` (30 s by default), so a server that
 * accepts connections and never answers fails a call after (retries + 1) timeouts
 * plus the backoff between them, instead of hanging it.
 */
export class S3Store extends LayeredStore {
  readonly bucket: string;
  readonly prefix: string;

  constructor(options: S3StoreOptions) {
    const { client, bucket } = options ?? ({} as Partial<S3StoreOptions>);
    const prefix = options?.prefix ?? '';
    const invalid = (message: string) => new BlockVfsError('invalid', message, { source: SOURCE });
    if (!client || typeof client.send !== 'function') throw invalid('"client" must be an S3Client (from @aws-sdk/client-s3)');
    if (typeof bucket !== 'string' || bucket.length === 0) throw invalid('"bucket" must be a non-empty string');
    if (typeof prefix !== 'string') throw invalid('"prefix" must be a string');
    const requestTimeoutMs = resolveRequestTimeout(options, SOURCE);
    const name = `s3://${bucket}/${prefix}`;
    super(new S3Requests({ client, bucket, prefix, name, requestTimeoutMs, conditionalWrites: options.conditionalWrites ?? true }), options);
    this.bucket = bucket;
    this.prefix = prefix;
  }
}
