import { BlockVfsError, isRequestTimeout, type ErrorKind } from '@blockvfs/core/store';
import { SOURCE } from './keys.js';

/** What we read off an error thrown by @azure/storage-blob (a RestError) or by a body stream. */
export interface AzureFailure {
  /** HTTP status, when the service answered. */
  status: number | undefined;
  /** Azure's error code (`BlobNotFound`, `ConditionNotMet`, …) or a Node/SDK error code (`ECONNRESET`, `REQUEST_SEND_ERROR`). */
  code: string | undefined;
  message: string;
}

export function describeFailure(error: unknown): AzureFailure {
  const e = (error ?? {}) as { statusCode?: unknown; code?: unknown; details?: { errorCode?: unknown }; message?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e.details?.errorCode === 'string' ? e.details.errorCode : typeof e.code === 'string' ? e.code : undefined;
  // The SDK's messages carry a RequestId and Time on further lines: keep the first.
  const message = (typeof e.message === 'string' ? e.message : String(error)).split('\n')[0]?.trim() ?? '';
  return { status, code, message };
}

/** True when the service answered `status` with Azure error code `code` (if given). */
export function isAzureError(error: unknown, status: number, code?: string): boolean {
  const failure = describeFailure(error);
  return failure.status === status && (code === undefined || failure.code === code);
}

/** Error codes of a request that never got an answer: the connection failed, was cut or timed out. */
const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * The kind of a failed request, by what retrying can do about it:
 * no answer at all (the store's own requestTimeoutMs passing too), 408, 429 and 5xx are `transient`; 400 and 413 are `invalid`
 * (we sent something the service refuses); 401, 403, a missing container and any
 * other answer are `permanent`. Lost conditions (409 BlobAlreadyExists, 412) are
 * decided by the put itself, which knows whether it sent a condition.
 */
export function classify(error: unknown): ErrorKind {
  if (isRequestTimeout(error)) return 'transient';
  const { status, code } = describeFailure(error);
  if (status === undefined) {
    const name = (error as { name?: unknown } | undefined)?.name;
    if ((code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR'))) || name === 'AbortError' || name === 'TimeoutError') return 'transient';
    // A RestError without a status is a request that failed before any answer came back.
    if (name === 'RestError') return 'transient';
    return 'permanent';
  }
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  if (status === 400 || status === 413) return 'invalid';
  return 'permanent';
}

/**
 * A BlockVfsError for a failed request, e.g. `get "k" failed: 403 AuthorizationFailure: …`,
 * or for the store's own timeout `get "k" timed out after 30000 ms`; the SDK's error
 * (or the RequestTimeoutError) as `cause`. `detail` is said in parentheses after `what`.
 */
export function toStoreError(error: unknown, what: string, store: string, kind: ErrorKind = classify(error), detail?: string): BlockVfsError {
  if (error instanceof BlockVfsError) return error;
  const note = detail === undefined ? '' : ` (${detail})`;
  if (isRequestTimeout(error)) return new BlockVfsError(kind, `${what} ${error.message}${note}`, { source: SOURCE, store, cause: error });
  const { status, code, message } = describeFailure(error);
  const head = [status, code].filter((part) => part !== undefined).join(' ');
  const hint = code === 'ContainerNotFound' ? ' (the container does not exist)' : '';
  return new BlockVfsError(kind, `${what}${note} failed${hint}: ${head ? `${head}: ` : ''}${message}`, { source: SOURCE, store, cause: error });
}
