import { describe, expect, it } from 'vitest';
import { BlockVfsError, isBlockVfsError, type ErrorKind } from '@blockvfs/core';
import {
  RequestTimeoutError,
  StoreErrors,
  describeDelete,
  describeGet,
  describeList,
  describePut,
  type ProviderErrorRules,
  type ProviderFailure,
} from '@blockvfs/core/store';

/**
 * The shared classification, situation by situation. A toy provider: its errors carry
 * `status`, `code` and `message` as they are; its code `SlowDown` means throttled
 * whatever the status, `NoSuchBucket` is a missing bucket. Each cloud store's own tests
 * meet the same situations through its SDK and a real (or test) server.
 */
const rules: ProviderErrorRules = {
  source: '@blockvfs/toy',
  container: 'bucket',
  read: (error) => {
    const e = (error ?? {}) as { status?: unknown; code?: unknown; message?: unknown; noAnswer?: unknown };
    const failure: ProviderFailure = {};
    if (typeof e.status === 'number') failure.status = e.status;
    if (typeof e.code === 'string') failure.code = e.code;
    if (typeof e.message === 'string' && e.message !== '') failure.message = e.message;
    if (e.noAnswer === true) failure.noAnswer = true;
    return failure;
  },
  codes: { SlowDown: 'transient', OperationAborted: 'transient', ConditionalRequestConflict: 'precondition-failed' },
  isMissingContainer: (failure) => failure.code === 'NoSuchBucket',
};
const errors = new StoreErrors(rules, 'toy://bucket/');

const networkError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
const wrapped = (cause: unknown) => new Error('fetch failed', { cause });
const named = (name: string) => Object.assign(new Error('the operation was aborted'), { name });

/** Situation → a provider error of it, and the kind it must be. */
const SITUATIONS: Array<{ situation: string; error: unknown; kind: ErrorKind }> = [
  { situation: 'precondition failed (412), on create-if-absent or if-match', error: { status: 412, code: 'PreconditionFailed' }, kind: 'precondition-failed' },
  { situation: "a provider's own code for a lost condition (409)", error: { status: 409, code: 'ConditionalRequestConflict' }, kind: 'precondition-failed' },
  { situation: 'throttled (429)', error: { status: 429, code: 'TooManyRequests' }, kind: 'transient' },
  { situation: "throttled (a provider's code, whatever the status)", error: { status: 503, code: 'SlowDown' }, kind: 'transient' },
  { situation: '408 Request Timeout', error: { status: 408 }, kind: 'transient' },
  { situation: '500', error: { status: 500, code: 'InternalError' }, kind: 'transient' },
  { situation: '503', error: { status: 503 }, kind: 'transient' },
  { situation: '501 Not Implemented', error: { status: 501, code: 'NotImplemented' }, kind: 'permanent' },
  { situation: "a provider's code that says retry on a 409", error: { status: 409, code: 'OperationAborted' }, kind: 'transient' },
  { situation: 'connection reset', error: networkError('ECONNRESET'), kind: 'transient' },
  { situation: 'connection refused', error: networkError('ECONNREFUSED'), kind: 'transient' },
  { situation: 'connection refused, under a wrapper (undici)', error: wrapped(networkError('ECONNREFUSED')), kind: 'transient' },
  { situation: "undici's socket error", error: wrapped(networkError('UND_ERR_SOCKET')), kind: 'transient' },
  { situation: 'a DNS name that did not resolve', error: networkError('ENOTFOUND'), kind: 'transient' },
  { situation: 'a body cut short', error: networkError('ERR_STREAM_PREMATURE_CLOSE'), kind: 'transient' },
  { situation: 'an abort', error: named('AbortError'), kind: 'transient' },
  { situation: "an SDK's own timeout", error: named('TimeoutError'), kind: 'transient' },
  { situation: "the provider's own sign that no answer came", error: { noAnswer: true }, kind: 'transient' },
  { situation: 'the store’s request timeout', error: new RequestTimeoutError(300), kind: 'transient' },
  { situation: 'access denied (403)', error: { status: 403, code: 'AccessDenied' }, kind: 'permanent' },
  { situation: 'bad credentials (401)', error: { status: 401 }, kind: 'permanent' },
  { situation: 'a missing bucket (404)', error: { status: 404, code: 'NoSuchBucket' }, kind: 'permanent' },
  { situation: 'a 404 that reached classification (not a missing key)', error: { status: 404 }, kind: 'permanent' },
  { situation: 'a malformed request (400)', error: { status: 400, code: 'InvalidArgument' }, kind: 'invalid' },
  { situation: 'too large (413)', error: { status: 413 }, kind: 'invalid' },
  { situation: 'another 4xx (409 Conflict)', error: { status: 409 }, kind: 'permanent' },
  { situation: 'an error without status or network code', error: new Error('something odd'), kind: 'permanent' },
  { situation: 'a BlockVfsError keeps its kind', error: new BlockVfsError('invalid', 'x', { source: 's' }), kind: 'invalid' },
];

describe('StoreErrors: the kinds of the situations every cloud store meets', () => {
  it.each(SITUATIONS)('$situation → $kind', ({ error, kind }) => {
    expect(errors.kindOf(error)).toBe(kind);
    const failed = errors.failed('get "k"', error);
    expect(isBlockVfsError(failed, kind)).toBe(true);
    if (isBlockVfsError(error)) return expect(failed).toBe(error);
    expect(failed.message.startsWith('@blockvfs/toy (toy://bucket/): get "k" ')).toBe(true);
    expect(failed.cause).toBe(error);
  });

  it('a missing key is told from a missing bucket', () => {
    expect(errors.isMissingKey({ status: 404, code: 'NoSuchKey' })).toBe(true);
    expect(errors.isMissingKey({ status: 404, code: 'NoSuchBucket' })).toBe(false);
    expect(errors.isMissingKey({ status: 403 })).toBe(false);
    const narrow = new StoreErrors({ ...rules, isMissingKey: (failure) => failure.status === 404 && failure.code === 'BlobNotFound' });
    expect(narrow.isMissingKey({ status: 404, code: 'BlobNotFound' })).toBe(true);
    expect(narrow.isMissingKey({ status: 404, code: 'ResourceNotFound' })).toBe(false);
  });
});

describe('StoreErrors: messages name the store, the operation, the key and what went wrong', () => {
  it('a provider error: code, status and message; a missing bucket says so', () => {
    expect(errors.failed('get "k"', { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }).message).toBe(
      '@blockvfs/toy (toy://bucket/): get "k" failed: SlowDown (HTTP 503): Please reduce your request rate.',
    );
    expect(errors.failed('put "k"', { status: 500 }).message).toBe('@blockvfs/toy (toy://bucket/): put "k" failed: HTTP 500');
    expect(errors.failed('list ""', networkError('ECONNRESET')).message).toBe(
      '@blockvfs/toy (toy://bucket/): list "" failed: ECONNRESET: connect ECONNRESET 127.0.0.1:9',
    );
    expect(errors.failed('delete "k"', { status: 404, code: 'NoSuchBucket', message: 'gone' }).message).toBe(
      '@blockvfs/toy (toy://bucket/): delete "k" failed: NoSuchBucket (HTTP 404): gone (the bucket does not exist)',
    );
  });

  it('the request timeout: "timed out after N ms", the RequestTimeoutError as cause', () => {
    const timeout = new RequestTimeoutError(300);
    const error = errors.failed('get "k"', timeout);
    expect(error.message).toBe('@blockvfs/toy (toy://bucket/): get "k" timed out after 300 ms');
    expect(error.kind).toBe('transient');
    expect(error.cause).toBe(timeout);
  });

  it('an unknown outcome of a conditional put is transient and says both failures', () => {
    const error = errors.outcomeUnknown(describePut('c', { ifNoneMatch: '*' }), { status: 500, code: 'InternalError' }, new RequestTimeoutError(300));
    expect(error.kind).toBe('transient');
    expect(error.message).toBe(
      '@blockvfs/toy (toy://bucket/): put "c" (if absent): outcome unknown after InternalError (HTTP 500), and reading it back failed: timeout (300 ms)',
    );
  });

  it('a BlockVfsError passes through as it is', () => {
    const own = errors.error('permanent', 'no etag');
    expect(errors.failed('put "k"', own)).toBe(own);
    expect(new StoreErrors(rules).error('invalid', 'bad option').message).toBe('@blockvfs/toy: bad option');
  });

  it('operations are described alike in every store', () => {
    expect(describeGet('k')).toBe('get "k"');
    expect(describeGet('k', { offset: 4096, length: 4096 })).toBe('get "k" (bytes 4096+4096)');
    expect(describeGet('k', { offset: 10 })).toBe('get "k" (bytes 10 to the end)');
    expect(describePut('k')).toBe('put "k"');
    expect(describePut('k', { ifNoneMatch: '*' })).toBe('put "k" (if absent)');
    expect(describePut('k', { ifMatch: 'e1' })).toBe('put "k" (if etag is e1)');
    expect(describeDelete(['a'])).toBe('delete "a"');
    expect(describeDelete(['a', 'b'])).toBe('delete 2 keys from "a"');
    expect(describeList('db/')).toBe('list "db/"');
    expect(describeList('db/', 'db/k')).toBe('list "db/" after "db/k"');
  });
});
