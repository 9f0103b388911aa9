/**
 * The options every cloud store (S3Store, GcsStore, AzureBlobStore) takes alike, with
 * the same defaults: its options interface extends this one, and its README documents
 * them with the same table rows.
 */
import { BlockVfsError } from './errors.js';
import type { StoreLayerOptions } from './layers/layered-store.js';
import type { RetryOptions } from './layers/retry.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestTimeoutProblem, type RequestTimeoutOption } from './request-timeout.js';

export interface CloudStoreOptions extends StoreLayerOptions {
  /**
   * Retrying of transient failures (core's withRetry: throttling, 5xx, dropped
   * connections, timeouts, a conditional put whose outcome is unknown), with
   * exponential backoff and jitter. On by default with withRetry's defaults
   * (`retries` 5, `baseDelayMs` 100, `maxDelayMs` 10 000); `false` turns it off. It
   * retries what the SDK's own retry policy does not, such as a timed-out attempt.
   */
  retry?: RetryOptions | false; // not StoreLayerOptions['retry'], which adds undefined: a consumer with exactOptionalPropertyTypes refuses that
  /**
   * How long one attempt may take, in milliseconds (default 30 000), reading the
   * answer's body included; `false` for no limit (`0` is refused). When it passes, the
   * attempt's request is aborted (its connection closed) and the attempt fails
   * `transient`, which `retry` retries, each retry with a timeout of its own. One
   * attempt is one SDK call, the SDK's own retries included: they share the attempt's
   * time, and the abort ends them.
   */
  requestTimeoutMs?: RequestTimeoutOption;
}

/** A cloud store's `requestTimeoutMs` with its default, or an `invalid` BlockVfsError from `source` saying what is wrong with it. */
export function resolveRequestTimeout(options: CloudStoreOptions, source: string): RequestTimeoutOption {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const problem = requestTimeoutProblem(requestTimeoutMs);
  if (problem) throw new BlockVfsError('invalid', problem, { source });
  return requestTimeoutMs;
}
