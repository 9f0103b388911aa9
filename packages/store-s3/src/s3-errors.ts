import type { ErrorKind, ProviderErrorRules, ProviderFailure } from '@blockvfs/core/store';

export const SOURCE = '@blockvfs/store-s3';

/** What the SDK's errors carry that matters here (service errors and network errors alike). */
interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
}

/** The S3 error code (`NoSuchKey`, `SlowDown`…) or, for a network failure, the Node error code. */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as SdkErrorShape;
  for (const candidate of [e.Code, e.code, e.name]) if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
  return undefined;
}

/** How many times the SDK sent the request (its own retries included), when it says. */
export function sdkAttempts(error: unknown): number {
  const attempts = (error as SdkErrorShape | null)?.$metadata?.attempts;
  return typeof attempts === 'number' ? attempts : 1;
}

/**
 * S3's codes whose kind their HTTP status does not tell (core's StoreErrors takes the
 * status for the rest: 412 → precondition-failed, 429/5xx → transient, 403 → permanent…).
 */
const CODES: Readonly<Record<string, ErrorKind>> = {
  // "Try again later", whatever their status.
  SlowDown: 'transient',
  Throttling: 'transient',
  ThrottlingException: 'transient',
  ThrottledException: 'transient',
  RequestThrottled: 'transient',
  RequestLimitExceeded: 'transient',
  TooManyRequests: 'transient',
  TooManyRequestsException: 'transient',
  ServiceUnavailable: 'transient',
  InternalError: 'transient',
  RequestTimeout: 'transient', // 400: the connection was idle too long while sending the body
  RequestTimeoutException: 'transient',
  OperationAborted: 'transient', // 409: "a conflicting conditional operation is currently in progress"
  // A lost condition: 412 PreconditionFailed, and 409 when a conditional write raced another.
  PreconditionFailed: 'precondition-failed',
  ConditionalRequestConflict: 'precondition-failed',
  // No retry will fix these: credentials, permissions, a missing bucket (whatever status a server gives them).
  AccessDenied: 'permanent',
  AllAccessDisabled: 'permanent',
  InvalidAccessKeyId: 'permanent',
  SignatureDoesNotMatch: 'permanent',
  NoSuchBucket: 'permanent',
  AccountProblem: 'permanent',
  ExpiredToken: 'permanent',
  InvalidToken: 'permanent',
  InvalidObjectState: 'permanent',
  NotImplemented: 'permanent', // 501: the server lacks the feature; asking again will not add it
};

/**
 * How `@aws-sdk/client-s3` v3 reports failures, for core's StoreErrors: service errors
 * carry the S3 code (`Code`, or `name`) and `$metadata.httpStatusCode`; network errors
 * the Node code (`code`), under the SDK's own wrapper or not.
 */
export const S3_ERRORS: ProviderErrorRules = {
  source: SOURCE,
  container: 'bucket',
  read(error: unknown): ProviderFailure {
    const e = (error ?? {}) as SdkErrorShape;
    const status = e.$metadata?.httpStatusCode;
    const code = errorCode(error);
    const raw = e.message;
    // RGW leaves <Message> empty, which the SDK turns into "UnknownError": say nothing then.
    const message = typeof raw === 'string' && raw !== '' && raw !== 'UnknownError' && raw !== code ? raw : undefined;
    return { status: typeof status === 'number' ? status : undefined, code, message };
  },
  codes: CODES,
  isMissingContainer: (failure) => failure.code === 'NoSuchBucket',
  isMissingKey: (failure) => failure.code === 'NoSuchKey' || (failure.status === 404 && failure.code !== 'NoSuchBucket'),
};
