/**
 * Runs async tasks one at a time, in call order. A wa-sqlite module must never be
 * entered by two calls at once (with Asyncify it silently returns wrong results, with
 * JSPI it can corrupt a database), and a call suspends the module for as long as a
 * VFS method awaits the store: so every call into a module waits its turn here.
 */
export class AsyncQueue {
  #tail: Promise<unknown> = Promise.resolve();
  /** Tasks queued or running. */
  #pending = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    // An idle queue starts the task at once: a tick saved on every call into SQLite.
    const result = this.#pending === 0 ? startNow(task) : this.#tail.then(task);
    this.#pending += 1;
    const settled = (): void => {
      this.#pending -= 1;
    };
    // The next task starts once this one has settled, whether it succeeded or not.
    this.#tail = result.then(settled, settled);
    return result;
  }
}

/** `task()`, with a synchronous throw turned into a rejection (as `.then(task)` would). */
function startNow<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error);
  }
}
