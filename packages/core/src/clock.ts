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
