/** Where a `settled()` thenable keeps its value, for a caller that can take it without `.then` (see vfs-glue.ts). */
export const SETTLED: unique symbol = Symbol('settled');

/** Whether `result` is a `settled()` thenable, whose value is then `result[SETTLED]` (no wrapper object: asked on every VFS call). */
export function isSettled(result: unknown): result is { [SETTLED]: unknown } {
  return typeof result === 'object' && result !== null && SETTLED in result;
}

/**
 * A result that is already there, in the shape of a promise: a thenable that calls
 * back at once instead of on a later tick.
 *
 * Why: an async VFS method of the Asyncify build is entered through Emscripten's
 * `handleAsync`, which calls `.then` on what the method returns. A real promise calls
 * back on a later tick, so SQLite's whole stack is unwound and rewound, even for an
 * answer found in memory; that costs more than a point query itself. This thenable
 * calls back inside `.then`, and Asyncify then simply goes on. Whoever instead
 * `await`s it (the JSPI build does) gets the same value a tick later: correct either way.
 */
export function settled<T>(value: T): PromiseLike<T> {
  if (typeof value === 'number' && value >= 0 && value < COMMON.length) return COMMON[value] as PromiseLike<T>;
  return makeSettled(value);
}

function makeSettled<T>(value: T): PromiseLike<T> {
  const thenable: PromiseLike<T> & { [SETTLED]: T } = {
    [SETTLED]: value,
    // biome-ignore lint/suspicious/noThenProperty: a thenable is the point: Asyncify takes it without unwinding
    then<R1 = T, R2 = never>(onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, _onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null) {
      return (onFulfilled ? settledOrPromise(() => onFulfilled(value)) : settled(value)) as PromiseLike<R1 | R2>;
    },
  };
  return thenable;
}

/** What the callback gave, settled (or the promise it returned); a throw becomes a rejected promise, as `.then` requires. */
function settledOrPromise<R>(callback: () => R | PromiseLike<R>): PromiseLike<R> {
  try {
    const result = callback();
    return isThenable(result) ? result : settled(result);
  } catch (error) {
    return Promise.reject(error);
  }
}

function isThenable<R>(value: R | PromiseLike<R>): value is PromiseLike<R> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** SQLite's result codes below 32 (SQLITE_OK, SQLITE_BUSY, …), made once: a settled thenable never changes, so one serves every answer. */
const COMMON: readonly PromiseLike<number>[] = Array.from({ length: 32 }, (_, code) => makeSettled(code));
