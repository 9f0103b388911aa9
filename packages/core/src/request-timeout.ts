/**
 * Per-attempt request timeouts, shared by the cloud stores (S3Store, GcsStore,
 * AzureBlobStore): one request of a store, its reading of the answer's body included,
 * gets `requestTimeoutMs` to finish. When the time is up, the attempt's AbortSignal
 * aborts (the store hands it to its SDK, which closes the connection) and the attempt
 * rejects at once with a RequestTimeoutError, whether or not the SDK has noticed yet:
 * a server that accepts a connection and never answers can delay a caller by one
 * timeout per attempt, never for ever. Each store turns that error into a `transient`
 * BlockVfsError naming itself, the request and the timeout, which withRetry retries.
 */

import { brandSymbol, hasBrand, setBrand } from './brand.js';

/** The default per-attempt request timeout of the cloud stores. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** setTimeout's largest delay (about 24.8 days): a longer one would fire at once. */
export const MAX_REQUEST_TIMEOUT_MS = 2_147_483_647;

/** A store's `requestTimeoutMs` option: milliseconds per attempt, or `false` for no timeout. */
export type RequestTimeoutOption = number | false;

/**
 * Why `value` is not a `requestTimeoutMs` (a whole number of milliseconds from 1 to
 * MAX_REQUEST_TIMEOUT_MS, or `false`), or undefined when it is. `0` is refused rather
 * than read as "none", which some libraries do and others do not: `false` says it.
 */
export function requestTimeoutProblem(value: unknown): string | undefined {
  if (value === false) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_REQUEST_TIMEOUT_MS) return undefined;
  const hint = value === 0 ? ' (false turns the timeout off)' : '';
  return `"requestTimeoutMs" must be a whole number of milliseconds from 1 to ${MAX_REQUEST_TIMEOUT_MS}, or false for none, got ${String(value)}${hint}`;
}

const TIMEOUT = brandSymbol('RequestTimeoutError');

/**
 * What a timed-out attempt rejects with, and the reason its AbortSignal carries (so an
 * SDK's AbortError has it as `cause`). Stores wrap it in their `transient`
 * BlockVfsError (as its `cause`); it never reaches a store's caller on its own.
 */
export class RequestTimeoutError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, TIMEOUT);
  }

  override readonly name = 'TimeoutError';
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
    setBrand(this, TIMEOUT);
  }
}

export function isRequestTimeout(error: unknown): error is RequestTimeoutError {
  return hasBrand(error, TIMEOUT);
}

/**
 * Runs one request attempt under a timeout. `run` gets the AbortSignal to hand to the
 * SDK (undefined when `timeoutMs` is false); the result is `run`'s, or a rejection
 * with a RequestTimeoutError once `timeoutMs` have passed, at which moment the signal
 * aborts. `run` must cover everything the attempt waits for (the answer's body too).
 *
 * `controller` lets a sequence of requests share one signal, for an SDK that takes it
 * once for many requests (a paged listing): each call times one request of it, and a
 * timeout aborts the whole sequence.
 */
export async function withRequestTimeout<T>(
  timeoutMs: RequestTimeoutOption,
  run: (signal: AbortSignal | undefined) => Promise<T>,
  controller: AbortController = new AbortController(),
): Promise<T> {
  if (timeoutMs === false) return run(undefined);
  if (controller.signal.aborted) throw controller.signal.reason;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new RequestTimeoutError(timeoutMs);
      // Rejected first, so that the caller hears "timed out" rather than whatever the
      // SDK makes of the abort; then aborted, which makes the SDK let go of the socket.
      reject(error);
      controller.abort(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), deadline]);
  } catch (error) {
    // An SDK that reacted to the abort before the race settled still timed out.
    if (controller.signal.aborted && isRequestTimeout(controller.signal.reason)) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
