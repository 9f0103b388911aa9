/**
 * Values that are there at once or later. Most calls into SQLite finish without
 * suspending it (pages in memory): chaining their steps with these instead of `await`
 * keeps such a call free of a promise and a tick per step; a step that does suspend
 * continues the chain as a promise. (No export is named `then`: a module namespace with
 * a `then` export is taken for a promise by whoever awaits the import.)
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`, now if `value` is there, else once it is. */
export function andThen<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** `run()`, then `cleanup()` whether it succeeded or failed (as try/finally): a throw in `cleanup` wins. */
export function andFinally<T>(run: () => MaybePromise<T>, cleanup: () => MaybePromise<void>): MaybePromise<T> {
  let result: MaybePromise<T>;
  try {
    result = run();
  } catch (error) {
    return andThen(cleanup(), () => {
      throw error;
    });
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => andThen(cleanup(), () => value),
      (error: unknown) =>
        andThen(cleanup(), () => {
          throw error;
        }),
    );
  }
  const value = result;
  return andThen(cleanup(), () => value);
}
