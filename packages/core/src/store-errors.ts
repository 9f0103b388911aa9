/**
 * How a cloud store turns a provider's failure into a BlockVfsError: the parts every
 * provider shares live here once (which network failures mean "the request may or may
 * not have arrived", what an HTTP status means by default, the store's own request
 * timeout, the wording of messages), and each store supplies only its provider's
 * specifics (ProviderErrorRules: how to read status, code and message off its SDK's
 * errors, the service codes whose kind the status does not tell, how a missing bucket
 * or container shows).
 *
 * Errors are recognised by their fields (a status, a code, a brand), never by message
 * text or by `instanceof` alone; a provider that only says something in text keeps that
 * in its own rules, with a comment saying why.
 *
 * The situations, and their kinds (test/store-errors.test.ts checks each, and every
 * cloud store's own tests check them against its SDK's real errors):
 *
 * | situation | kind |
 * |---|---|
 * | a missing key (404): `get` answers undefined, `delete` ignores it; never classified here | — |
 * | a lost condition (412; the provider's own codes for it) | `precondition-failed` |
 * | throttled (429, the provider's "slow down" codes), 408, 5xx but 501 | `transient` |
 * | no answer: a reset, refused or timed-out connection, an abort | `transient` |
 * | the store's own `requestTimeoutMs` passing (RequestTimeoutError) | `transient`, "timed out after N ms" |
 * | a conditional put whose outcome cannot be learnt (the read-back failed too) | `transient`, "outcome unknown" |
 * | access denied or bad credentials (401, 403) | `permanent` |
 * | a missing bucket or container (a 404 that the provider says is one) | `permanent`, "(the bucket does not exist)" |
 * | 501 Not Implemented: the server lacks the feature | `permanent` |
 * | 400, 413: the request itself was refused as malformed | `invalid` |
 * | anything else | `permanent` |
 */
import type { ByteRange, PutCondition } from './block-store.js';
import { BlockVfsError, isBlockVfsError, type ErrorKind } from './errors.js';
import { isRequestTimeout } from './request-timeout.js';

/** What a store reads off one of its SDK's errors. */
export interface ProviderFailure {
  /** The HTTP status, when the service answered. */
  status?: number | undefined;
  /** The provider's error code (S3 `SlowDown`, GCS reason `conditionNotMet`, Azure `BlobNotFound`) or a Node or SDK code (`ECONNRESET`). */
  code?: string | undefined;
  /** The provider's message, on one line; undefined when it says nothing the code does not. */
  message?: string | undefined;
  /**
   * The SDK says no answer came (a request that failed before any status), in a field
   * of its own that the shared network codes do not cover (node-fetch's FetchError
   * `type: 'system'`, an Azure RestError without a status).
   */
  noAnswer?: boolean;
}

/** A provider's specifics, which the shared rules below use. */
export interface ProviderErrorRules {
  /** The store's package, e.g. `@blockvfs/store-s3`: every message starts with it. */
  source: string;
  /** What the store keeps its keys in: `bucket` or `container`, for messages. */
  container: 'bucket' | 'container';
  /** Reads status, code and message off one of the SDK's errors (or anything else thrown). */
  read(error: unknown): ProviderFailure;
  /**
   * The provider's codes whose kind their HTTP status does not tell (S3's `SlowDown` on
   * 503 is the status's; its `RequestTimeout` on 400 or `OperationAborted` on 409 are not).
   * They win over the status.
   */
  codes?: Readonly<Record<string, ErrorKind>>;
  /** Whether a failure means the bucket (container) is missing: a misconfiguration, never "no such key". */
  isMissingContainer(failure: ProviderFailure): boolean;
  /** Whether a failure means the key is missing (default: a 404 that is not a missing container). */
  isMissingKey?(failure: ProviderFailure): boolean;
}

/**
 * Node's and undici's codes for a connection that failed, broke or timed out below
 * HTTP: the request may or may not have arrived, so a retry may help (and a conditional
 * put must be read back before deciding).
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  // DNS: EAI_AGAIN is a resolver that did not answer; ENOTFOUND may be one that failed for a moment (a retry costs little).
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Error names of an abort or of an SDK's own timeout: the request was given up, its outcome unknown. */
const NO_ANSWER_NAMES: ReadonlySet<string> = new Set(['AbortError', 'TimeoutError']);

/** The kind an HTTP status means when the provider's code does not say otherwise. */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 412) return 'precondition-failed';
  if (status === 408 || status === 429) return 'transient';
  if (status === 501) return 'permanent'; // Not Implemented: asking again will not add the feature
  if (status >= 500) return 'transient';
  if (status === 400 || status === 413) return 'invalid';
  // 401, 403, a 404 that reached classification (a missing bucket: missing keys are answered before), 409, …
  return 'permanent';
}

/**
 * True when `error`, or an error in its `cause` chain, is a failure below HTTP: a
 * network code (NETWORK_ERROR_CODES) or an abort or SDK timeout (`AbortError`,
 * `TimeoutError`). `read` adds the provider's own signs of "no answer".
 */
export function isNetworkFailure(error: unknown, read?: (error: unknown) => ProviderFailure): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    if (typeof name === 'string' && NO_ANSWER_NAMES.has(name)) return true;
    if (read?.(e).noAnswer) return true;
  }
  return false;
}

/** `get "k"`, `get "k" (bytes 4096+4096)`, `get "k" (bytes 4096 to the end)`: a get, for messages. */
export function describeGet(key: string, range?: ByteRange): string {
  if (range === undefined) return `get "${key}"`;
  return `get "${key}" (bytes ${range.offset}${range.length === undefined ? ' to the end' : `+${range.length}`})`;
}

/** `put "k"`, `put "k" (if absent)`, `put "k" (if etag is e)`: a put and its condition, for messages. */
export function describePut(key: string, condition?: PutCondition): string {
  if (condition === undefined) return `put "${key}"`;
  return `put "${key}" ${'ifNoneMatch' in condition ? '(if absent)' : `(if etag is ${condition.ifMatch})`}`;
}

/** `delete "k"` or `delete 3 keys from "k"`: one delete request, for messages. */
export function describeDelete(keys: readonly string[]): string {
  return keys.length === 1 ? `delete "${keys[0]}"` : `delete ${keys.length} keys from "${keys[0] ?? ''}"`;
}

/** `list "p"`, or `list "p" after "k"` for a page after the first. */
export function describeList(prefix: string, after?: string): string {
  return `list "${prefix}"${after === undefined ? '' : ` after "${after}"`}`;
}

/**
 * A store's errors: built once per store instance (its name is in every message) from
 * its provider's rules. Messages read `<source> (<store>): <what> failed: <code> (HTTP
 * <status>): <provider's message>`, or for the store's own timeout `<what> timed out
 * after <ms> ms`, with the provider's error as `cause`.
 */
export class StoreErrors {
  readonly #rules: ProviderErrorRules;
  readonly #store: string | undefined;

  /** `store` is the store's name (`BlockStore.name`); leave it out for errors raised before the store exists (bad options). */
  constructor(rules: ProviderErrorRules, store?: string) {
    this.#rules = rules;
    this.#store = store;
  }

  /** The kind of a failed request (see the table at the top of this file). */
  kindOf(error: unknown): ErrorKind {
    if (isBlockVfsError(error)) return error.kind;
    if (isRequestTimeout(error)) return 'transient';
    const failure = this.#rules.read(error);
    const coded = failure.code === undefined ? undefined : this.#rules.codes?.[failure.code];
    if (coded !== undefined) return coded;
    if (this.#rules.isMissingContainer(failure)) return 'permanent';
    if (failure.status !== undefined) return kindOfStatus(failure.status);
    return isNetworkFailure(error, this.#rules.read) ? 'transient' : 'permanent';
  }

  /** Whether the failure says the key does not exist (and the bucket or container does). */
  isMissingKey(error: unknown): boolean {
    const failure = this.#rules.read(error);
    if (this.#rules.isMissingContainer(failure)) return false;
    return this.#rules.isMissingKey ? this.#rules.isMissingKey(failure) : failure.status === 404;
  }

  /** `SlowDown (HTTP 503): Please reduce your request rate.`, `ECONNRESET: socket hang up`, `timeout (300 ms)`: what went wrong, for messages. */
  describe(error: unknown): string {
    if (isRequestTimeout(error)) return `timeout (${error.timeoutMs} ms)`;
    // A store's own error around a provider's (a read-back that failed): what went wrong is its cause.
    if (isBlockVfsError(error)) return error.cause === undefined ? error.message : this.describe(error.cause);
    const { status, code, message } = this.#rules.read(error);
    const head = code !== undefined && status !== undefined ? `${code} (HTTP ${status})` : (code ?? (status !== undefined ? `HTTP ${status}` : 'Error'));
    return message ? `${head}: ${message}` : head;
  }

  /**
   * The BlockVfsError for a failed request: `<what> failed: <describe(error)>`, naming a
   * missing bucket or container, or `<what> timed out after <ms> ms` for the store's own
   * timeout; the error as `cause`. A BlockVfsError passes through as it is.
   */
  failed(what: string, error: unknown, kind: ErrorKind = this.kindOf(error)): BlockVfsError {
    if (isBlockVfsError(error)) return error;
    if (isRequestTimeout(error)) return this.error(kind, `${what} ${error.message}`, error);
    const missing = this.#rules.isMissingContainer(this.#rules.read(error)) ? ` (the ${this.#rules.container} does not exist)` : '';
    return this.error(kind, `${what} failed: ${this.describe(error)}${missing}`, error);
  }

  /**
   * A conditional put whose answer was lost (a 5xx, no answer, a timeout) and whose
   * read-back failed too: it may or may not have taken effect. `transient`, so that a
   * retry asks again; the store must make that retry recognise its own earlier write.
   */
  outcomeUnknown(what: string, error: unknown, readError: unknown): BlockVfsError {
    return this.error('transient', `${what}: outcome unknown after ${this.describe(error)}, and reading it back failed: ${this.describe(readError)}`, error);
  }

  /** A BlockVfsError of the store's own, e.g. `invalid` for a bad argument. */
  error(kind: ErrorKind, message: string, cause?: unknown): BlockVfsError {
    return new BlockVfsError(kind, message, { source: this.#rules.source, ...(this.#store === undefined ? {} : { store: this.#store }), cause });
  }
}
