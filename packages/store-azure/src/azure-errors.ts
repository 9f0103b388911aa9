import type { ErrorKind, ProviderErrorRules, ProviderFailure } from '@blockvfs/core/store';

export const SOURCE = '@blockvfs/store-azure';

/** What an error thrown by @azure/storage-blob (a RestError), or by a body stream, carries. */
interface SdkErrorShape {
  statusCode?: unknown;
  code?: unknown;
  details?: { errorCode?: unknown };
  message?: unknown;
  name?: unknown;
}

/**
 * Azure's codes whose kind their HTTP status does not tell (core's StoreErrors takes the
 * status for the rest: 412 → precondition-failed, 408/429/5xx (503 ServerBusy) →
 * transient, 400/413 → invalid, 401/403 → permanent).
 */
const CODES: Readonly<Record<string, ErrorKind>> = {
  // Create-if-absent (`If-None-Match: *`) on an existing blob answers 409, not 412.
  BlobAlreadyExists: 'precondition-failed',
  // The SDK's code for a request that got no answer (the connection failed or was cut).
  REQUEST_SEND_ERROR: 'transient',
};

/**
 * How `@azure/storage-blob` reports failures, for core's StoreErrors: a RestError has
 * `statusCode` and Azure's error code (`details.errorCode`, from the body or the
 * `x-ms-error-code` header of a HEAD), or a Node or SDK `code`. A RestError without a
 * status is a request that failed before any answer came back.
 */
export const AZURE_ERRORS: ProviderErrorRules = {
  source: SOURCE,
  container: 'container',
  read(error: unknown): ProviderFailure {
    const e = (error ?? {}) as SdkErrorShape;
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const code = typeof e.details?.errorCode === 'string' ? e.details.errorCode : typeof e.code === 'string' ? e.code : undefined;
    // The SDK's messages carry a RequestId and Time on further lines: keep the first.
    const message = typeof e.message === 'string' ? e.message.split('\n')[0]?.trim() : undefined;
    return { status, code, message: message === '' || message === code ? undefined : message, noAnswer: status === undefined && e.name === 'RestError' };
  },
  codes: CODES,
  isMissingContainer: (failure) => failure.code === 'ContainerNotFound',
  // Only BlobNotFound: another 404 (an account or URL that is wrong) is no missing key.
  isMissingKey: (failure) => failure.status === 404 && failure.code === 'BlobNotFound',
};
