import type { ErrorKind, ProviderErrorRules, ProviderFailure } from '@blockvfs/core/store';

export const SOURCE = '@blockvfs/store-gcs';

/**
 * What @google-cloud/storage rejects with: an ApiError (`code` = the HTTP status,
 * `errors[].reason`, `message`, for downloads the raw JSON body as message), or a
 * lower-level error from the HTTP client (`code` = 'ECONNRESET' and the like; node-fetch's
 * FetchError with a `type`).
 */
interface SdkErrorShape {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  type?: unknown;
}

/**
 * GCS's codes whose kind their HTTP status does not tell (core's StoreErrors takes the
 * status for the rest: 412 conditionNotMet → precondition-failed, 408/429/5xx →
 * transient, 400 → invalid, 401/403 → permanent).
 */
const CODES: Readonly<Record<string, ErrorKind>> = {
  // The SDK's own: a download whose bytes did not match the object's CRC32C/MD5 (corrupted in transit).
  CONTENT_DOWNLOAD_MISMATCH: 'transient',
};

/** GCS's reason (`notFound`, `conditionNotMet`, `rateLimitExceeded`, …), when there is one. */
function errorReason(error: unknown): string | undefined {
  const errors = (error as SdkErrorShape | null)?.errors;
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
  const reason = (first as { reason?: unknown } | undefined)?.reason ?? (parsedBody(error)?.errors?.[0] as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** The server's message: the SDK's, or for downloads (whose message is the raw body) the one inside the JSON. */
function serverMessage(error: unknown): string | undefined {
  const body = parsedBody(error);
  if (body && typeof body.message === 'string') return body.message;
  const message = (error as SdkErrorShape | null)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
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

/**
 * How `@google-cloud/storage` reports failures, for core's StoreErrors: an ApiError's
 * `code` is the HTTP status and its reason the code; an HTTP client error's `code` is
 * Node's. node-fetch (under the SDK's teeny-request) marks a failure with no answer as
 * FetchError `type: 'system'` (a socket error) or `'request-timeout'`.
 */
export const GCS_ERRORS: ProviderErrorRules = {
  source: SOURCE,
  container: 'bucket',
  read(error: unknown): ProviderFailure {
    const { code, type } = (error ?? {}) as SdkErrorShape;
    const status = typeof code === 'number' ? code : undefined;
    return {
      status,
      code: status === undefined ? (typeof code === 'string' ? code : undefined) : errorReason(error),
      message: serverMessage(error),
      noAnswer: status === undefined && (type === 'system' || type === 'request-timeout'),
    };
  },
  codes: CODES,
  // GCS answers a missing bucket and a missing object alike (404, reason `notFound`): only
  // the message tells them apart ("The specified bucket does not exist"), so it is read here.
  isMissingContainer: (failure) => failure.status === 404 && /bucket does not exist/i.test(failure.message ?? ''),
};
