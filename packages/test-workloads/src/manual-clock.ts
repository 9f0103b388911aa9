import type { Clock } from '@blockvfs/core';

/**
 * A clock that moves only when a test says: `advance(ms)` moves time on and settles
 * the sleeps due by then. For tests that cross a lease's ttl, a view's trust window or
 * a collection's grace period without waiting for them.
 */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Array<{ until: number; wake: () => void }> = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => this.#sleepers.push({ until: this.#now + ms, wake }));
  }

  /** Moves time on by `ms` and wakes every sleep due by then. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((sleeper) => sleeper.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((sleeper) => sleeper.until > this.#now);
    for (const sleeper of due) sleeper.wake();
  }
}
