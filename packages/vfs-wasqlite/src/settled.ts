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
  return {
    // biome-ignore lint/suspicious/noThenProperty: a thenable is the point: Asyncify takes it without unwinding
    then<R1 = T, R2 = never>(onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, _onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null) {
      return (onFulfilled ? settledOrPromise(() => onFulfilled(value)) : settled(value)) as PromiseLike<R1 | R2>;
    },
  };
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
