import { isRequestTimeout, type ErrorKind } from '@blockvfs/core/store';

/**
 * What @google-cloud/storage rejects with: an ApiError (`code` = the HTTP status,
 * `errors[].reason`, `message`, for downloads the raw JSON body as message), or a
 * lower-level error from the HTTP client (`code` = 'ECONNRESET' and the like).
 */
interface SdkErrorShape {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  type?: unknown;
  name?: unknown;
  cause?: unknown;
}

/** Socket-level failures: the request may or may not have reached the server. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  // The SDK's own: a download whose bytes did not match the object's CRC32C/MD5 (corrupted in transit).
  'CONTENT_DOWNLOAD_MISMATCH',
]);

/** The HTTP status of an SDK error, when it got that far. */
export function httpStatus(error: unknown): number | undefined {
  const code = (error as SdkErrorShape | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** GCS's reason (`notFound`, `conditionNotMet`, `rateLimitExceeded`, …), when there is one. */
export function errorReason(error: unknown): string | undefined {
  const errors = (error as SdkErrorShape | null)?.errors;
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
  const reason = (first as { reason?: unknown } | undefined)?.reason;
  if (typeof reason === 'string') return reason;
  return (parsedBody(error)?.errors?.[0] as { reason?: unknown } | undefined)?.reason as string | undefined;
}

/** The server's message: the SDK's, or for downloads (whose message is the raw body) the one inside the JSON. */
export function serverMessage(error: unknown): string {
  const body = parsedBody(error);
  if (body && typeof body.message === 'string') return body.message;
  const message = (error as SdkErrorShape | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** A 404 that means the bucket is missing (not the object): a misconfiguration, never "no such key". */
export function isMissingBucket(error: unknown): boolean {
  return httpStatus(error) === 404 && /bucket does not exist/i.test(serverMessage(error));
}

/**
 * The BlockVfsError kind for an SDK error:
 * - 412 conditionNotMet → precondition-failed;
 * - 408, 429 (GCS also throttles writes to one object name to about one a second), 5xx,
 *   dropped connections and timeouts (the store's own requestTimeoutMs too) → transient;
 * - 400 → invalid (the request itself was wrong: a name too long, a bad argument);
 * - 401/403 (credentials, permissions), a missing bucket, and anything else → permanent.
 * A missing object is not classified here: `get` answers undefined, `delete` ignores it.
 */
export function classify(error: unknown): ErrorKind {
  if (isRequestTimeout(error)) return 'transient';
  const status = httpStatus(error);
  if (status === 412) return 'precondition-failed';
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) return 'transient';
  if (status === 400) return 'invalid';
  if (status === undefined && isNetworkFailure(error)) return 'transient';
  return 'permanent';
}

function isNetworkFailure(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as SdkErrorShape).cause, depth++) {
    const { code, type, name, message } = e as SdkErrorShape;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    // node-fetch (under the SDK's teeny-request) reports socket failures as FetchError type 'system'.
    if (type === 'system' || type === 'request-timeout') return true;
    if (name === 'AbortError' || name === 'TimeoutError') return true;
    if (typeof message === 'string' && /socket hang up|network timeout|premature close/i.test(message)) return true;
  }
  return false;
}

/** `HTTP 412 conditionNotMet: At least one of the pre-conditions you specified did not hold.`: for messages. */
export function describeError(error: unknown): string {
  if (isRequestTimeout(error)) return `timeout (${error.timeoutMs} ms)`;
  const status = httpStatus(error);
  const reason = errorReason(error);
  const code = (error as SdkErrorShape | null)?.code;
  const head = status !== undefined ? `HTTP ${status}${reason ? ` ${reason}` : ''}` : typeof code === 'string' ? code : 'Error';
  return `${head}: ${serverMessage(error)}`;
}

function parsedBody(error: unknown): { message?: unknown; errors?: unknown[] } | undefined {
  const message = (error as SdkErrorShape | null)?.message;
  if (typeof message !== 'string' || !message.startsWith('{')) return undefined;
  try {
    const body = JSON.parse(message) as { error?: { message?: unknown; errors?: unknown[] } };
    return body.error;
  } catch {
    return undefined;
  }
}
