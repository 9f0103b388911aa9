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
  /** While a task started by an idle queue runs its synchronous part: the gate later tasks wait behind, once one comes. */
  #starting: Starting | undefined;

  /**
   * Runs `task` after the tasks before it. An idle queue starts it at once (a tick saved
   * on every call into SQLite), and a task that finishes without awaiting (a plain
   * value) leaves the queue idle again at once.
   */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.#pending > 0 || this.#starting) return this.#enqueue(task);
    const starting: Starting = {};
    this.#starting = starting;
    let result: T | Promise<T>;
    try {
      result = task();
    } catch (error) {
      result = Promise.reject(error);
    } finally {
      this.#starting = undefined;
    }
    if (!(result instanceof Promise)) {
      starting.open?.();
      return Promise.resolve(result);
    }
    this.#pending += 1;
    const settled = (): void => {
      this.#pending -= 1;
      starting.open?.();
    };
    const after = result.then(settled, settled);
    if (!starting.gate) this.#tail = after; // else the tasks queued behind the gate are the tail
    return result;
  }

  #enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    const starting = this.#starting;
    if (starting && !starting.gate) {
      // Called from within a task still starting: wait until that one has settled.
      starting.gate = new Promise<void>((resolve) => (starting.open = resolve));
      this.#tail = starting.gate;
    }
    const result = this.#tail.then(task);
    this.#pending += 1;
    const settled = (): void => {
      this.#pending -= 1;
    };
    // The next task starts once this one has settled, whether it succeeded or not.
    this.#tail = result.then(settled, settled);
    return result;
  }
}

interface Starting {
  gate?: Promise<void>;
  open?: () => void;
}
