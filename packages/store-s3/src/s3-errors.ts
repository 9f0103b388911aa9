import { isRequestTimeout, type ErrorKind } from '@blockvfs/core/store';

/** What the SDK's errors carry that matters here (service errors and network errors alike). */
interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
}

/** The S3 error code (`NoSuchKey`, `SlowDown`…) or, for a network failure, the Node error code. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as SdkErrorShape;
  for (const candidate of [e.Code, e.code, e.name]) if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
  return undefined;
}

export function httpStatus(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** How many times the SDK sent the request (its own retries included), when it says. */
export function sdkAttempts(error: unknown): number {
  const attempts = (error as SdkErrorShape | null)?.$metadata?.attempts;
  return typeof attempts === 'number' ? attempts : 1;
}

/** S3 codes that mean "try again later", whatever their HTTP status. */
const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout', // 400: the connection was idle too long while sending the body
  'RequestTimeoutException',
  'TimeoutError', // the SDK's own request or connection timeout
  'OperationAborted', // 409: "a conflicting conditional operation is currently in progress"
]);

/** Node's codes for a connection that failed or broke: the request may or may not have arrived. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_HTTP2_STREAM_ERROR',
]);

/** Codes that no retry will fix: credentials, permissions, a missing bucket. */
const PERMANENT_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'AccountProblem',
  'ExpiredToken',
  'InvalidToken',
  'InvalidObjectState',
  'NotImplemented', // 501: the server lacks the feature; asking again will not add it
]);

/**
 * The BlockVfsError kind for an SDK error:
 * - 412 PreconditionFailed, 409 ConditionalRequestConflict → precondition-failed;
 * - throttling (503 SlowDown, 429), other 5xx, timeouts (the SDK's and the store's own
 *   requestTimeoutMs), dropped connections → transient;
 * - 403 AccessDenied, NoSuchBucket, bad credentials → permanent;
 * - other 400s → invalid (the request itself was wrong: a key too long, a bad argument);
 * - anything else → permanent.
 * A missing key is not classified here: `get` answers undefined for it.
 */
export function classify(error: unknown): ErrorKind {
  if (isRequestTimeout(error)) return 'transient'; // the store's own timeout: no answer in time
  const code = errorCode(error);
  const status = httpStatus(error);
  if (code !== undefined && PERMANENT_CODES.has(code)) return 'permanent';
  if (code !== undefined && (TRANSIENT_CODES.has(code) || NETWORK_CODES.has(code))) return 'transient';
  if (status === 412 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') return 'precondition-failed';
  if (status === 429 || (status !== undefined && status >= 500)) return 'transient';
  if (status === 400) return 'invalid';
  if (status === undefined && isNetworkFailure(error)) return 'transient';
  return 'permanent';
}

/** A failure below HTTP (no status): a socket error somewhere in the cause chain, or a timeout. */
function isNetworkFailure(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errorCode(e);
    if (code !== undefined && (NETWORK_CODES.has(code) || code === 'TimeoutError' || code === 'AbortError')) return true;
  }
  return false;
}

/** `SlowDown (HTTP 503): Please reduce your request rate.`: what went wrong, for messages. */
export function describeError(error: unknown): string {
  if (isRequestTimeout(error)) return `timeout (${error.timeoutMs} ms)`;
  const code = errorCode(error) ?? 'Error';
  const status = httpStatus(error);
  const raw = (error as SdkErrorShape | null)?.message;
  // RGW leaves <Message> empty, which the SDK turns into "UnknownError": say nothing then.
  const message = typeof raw === 'string' && raw !== '' && raw !== 'UnknownError' && raw !== code ? `: ${raw}` : '';
  return `${code}${status === undefined ? '' : ` (HTTP ${status})`}${message}`;
}
