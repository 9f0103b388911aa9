/**
 * Where core reads the time and waits. The system's clock by default; a deterministic
 * test passes a simulated one, so that a lease expiry, a view's trust window, a retry's
 * back-off or a collection's grace period happen when the test moves time, not when
 * the machine's clock does (see packages/simulation).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds (at once for 0 or less). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve()),
});

/** Whether `value` can serve as a Clock (checked where a caller passes one). */
export function isClock(value: unknown): value is Clock {
  return typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function' && typeof (value as Clock).sleep === 'function';
}

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
