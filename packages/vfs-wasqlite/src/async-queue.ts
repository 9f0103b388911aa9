/**
 * Runs async tasks one at a time, in call order. A wa-sqlite module must never be
 * entered by two calls at once (with Asyncify it silently returns wrong results, with
 * JSPI it can corrupt a database), and a call suspends the module for as long as a
 * VFS method awaits the store: so every call into a module waits its turn here.
 */
export class AsyncQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // The next task starts once this one has settled, whether it succeeded or not.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
