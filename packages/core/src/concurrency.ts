/**
 * Runs `task` on every item with at most `limit` running at once, and resolves when
 * all have finished. Rejects with the first failure, after the tasks already started
 * have settled (so no request is left running behind the caller's back).
 */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const list = Array.isArray(items) ? (items as readonly T[]) : [...items];
  // No more workers than items; a limit below 1 (or NaN) still makes progress, one at a time.
  const workers = Math.min(list.length, Number.isNaN(limit) ? 1 : Math.max(1, Math.floor(limit)));
  const iterator = list[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done && !failure; next = iterator.next()) {
      try {
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.error;
}
