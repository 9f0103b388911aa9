import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { isClock, systemClock, type Clock } from '../clock.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';

export type RetryOp = 'get' | 'put' | 'delete' | 'list';

export interface RetryEvent {
  op: RetryOp;
  /** The key (get, put), the first key (delete) or the prefix (list). */
  key: string;
  /** 1 for the first retry. */
  attempt: number;
  /** How long this retry waits before it is made. */
  delayMs: number;
  /** The transient error that made it retry. */
  error: BlockVfsError;
}

export interface RetryOptions {
  /** Retries after the first attempt (default 5; 0 turns retrying off). */
  retries?: number;
  /** Cap of the first retry's delay (default 100 ms); each further retry doubles it. */
  baseDelayMs?: number;
  /** No delay is longer than this (default 10 000 ms). */
  maxDelayMs?: number;
  /** Uniform in [0, 1): the jitter source (default Math.random). Tests pass a fixed one. */
  random?: () => number;
  /** Called before each retry waits: for logs and tests. */
  onRetry?: (event: RetryEvent) => void;
  /** What waits between attempts (default the system clock; deterministic tests pass a simulated one). */
  clock?: Clock;
}

export const DEFAULT_RETRY: Readonly<Required<Pick<RetryOptions, 'retries' | 'baseDelayMs' | 'maxDelayMs'>>> = Object.freeze({
  retries: 5,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
});

const SOURCE = '@blockvfs/core';

/**
 * Retries requests that failed with a BlockVfsError of kind `transient` (throttling,
 * 5xx, a dropped connection, a timeout), waiting between attempts with exponential
 * backoff and "full jitter" (a uniform draw in [0, min(maxDelayMs, baseDelayMs·2ⁿ)]),
 * which spreads out clients that were throttled together instead of letting them
 * come back in lockstep. Every other error (precondition-failed, permanent, invalid,
 * and errors that are not BlockVfsErrors) is passed through at once. When the
 * retries run out, the last transient error is thrown as it was.
 *
 * The store classifies; this layer only decides when to try again. So a store must
 * not report `transient` for a conditional put that may have taken effect: retrying
 * it would report its own write as a lost race. (S3Store, for one, reads the object
 * back after a 5xx on a conditional put before deciding.)
 *
 * A listing that fails part-way resumes after the last key it yielded, so callers
 * see every key once, in order.
 */
export function withRetry(store: BlockStore, options: RetryOptions = {}): BlockStore {
  const retries = options.retries ?? DEFAULT_RETRY.retries;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? systemClock;
  const invalid = (message: string): BlockVfsError => new BlockVfsError('invalid', message, { source: SOURCE, store: store.name });
  if (!Number.isSafeInteger(retries) || retries < 0) throw invalid(`retry: retries must be a non-negative integer, got ${retries}`);
  if (!(baseDelayMs >= 0 && Number.isFinite(baseDelayMs))) throw invalid(`retry: baseDelayMs must be a non-negative number, got ${baseDelayMs}`);
  if (!(maxDelayMs >= 0 && Number.isFinite(maxDelayMs))) throw invalid(`retry: maxDelayMs must be a non-negative number, got ${maxDelayMs}`);
  if (!isClock(clock)) throw invalid('retry: clock must have now() and sleep(ms) functions');

  /** The wait before retry number `attempt` (1-based). */
  const delayFor = (attempt: number): number => random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));

  /**
   * Whether to retry after `error` on failed attempt `attempt` (1-based); if so, waits
   * first. `attempt` counts consecutive failures of one request.
   */
  const backOff = async (op: RetryOp, key: string, error: unknown, attempt: number): Promise<boolean> => {
    if (!isBlockVfsError(error, 'transient') || attempt > retries) return false;
    const delayMs = delayFor(attempt);
    options.onRetry?.({ op, key, attempt, delayMs, error });
    if (delayMs > 0) await clock.sleep(delayMs);
    return true;
  };

  const request = async <T>(op: RetryOp, key: string, run: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (!(await backOff(op, key, error, attempt))) throw error;
      }
    }
  };

  return {
    name: store.name,
    capabilities: store.capabilities,
    get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      return request('get', key, () => store.get(key, range));
    },
    put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      return request('put', key, () => store.put(key, data, condition));
    },
    delete(keys: readonly string[]): Promise<void> {
      // Deleting is idempotent: a retry of the whole call redoes at most what was done.
      return request('delete', keys[0] ?? '', () => store.delete(keys));
    },
    async *list(prefix: string, listOptions: ListOptions = {}): AsyncIterable<ListEntry> {
      let startAfter = listOptions.startAfter;
      let failures = 0;
      for (;;) {
        const iterator = store.list(prefix, startAfter === undefined ? {} : { startAfter })[Symbol.asyncIterator]();
        try {
          for (;;) {
            let next: IteratorResult<ListEntry>;
            try {
              next = await iterator.next();
            } catch (error) {
              failures += 1;
              if (!(await backOff('list', prefix, error, failures))) throw error;
              break; // start a new listing after the last key yielded
            }
            if (next.done) return;
            failures = 0; // progress: the next failure starts a fresh count
            startAfter = next.value.key;
            yield next.value;
          }
        } finally {
          await iterator.return?.();
        }
      }
    },
  };
}
