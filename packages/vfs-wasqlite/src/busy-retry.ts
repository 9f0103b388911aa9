import { systemClock, type Clock } from '@blockvfs/core';

/** better-sqlite3's `timeout`: how long a busy database is waited for by default. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** The first wait's cap; each further wait's cap doubles, up to MAX_WAIT_MS. */
const FIRST_WAIT_MS = 5;
/** The longest single wait: a lease held for long is looked at again at least this often. */
const MAX_WAIT_MS = 500;

/** Uniform in [0, 1), from the platform's cryptographic source (which a deterministic test seeds, as it does commit tags). */
function uniform(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] as number) / 2 ** 32;
}

/** Why `value` is not a busy timeout (a whole number of ms, 0 or more), or undefined when it is. */
export function busyTimeoutProblem(value: unknown): string | undefined {
  const ok = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 2_147_483_647;
  return ok ? undefined : `"busyTimeoutMs" must be a whole number of ms from 0 to 2147483647, got ${String(value)}`;
}

/**
 * How a Database waits out SQLITE_BUSY (a commit lost to another writer, another
 * writer's lease, a lock another connection holds): the work is re-run after a wait
 * drawn uniformly below a cap that doubles from 5 ms to 500 ms ("full jitter", so that
 * writers that collided do not collide again in step), until `timeout` ms have passed
 * since the first attempt; then the SQLITE_BUSY is thrown. Waits go through the clock
 * (timers, never a blocking sleep: every other database of the process keeps running).
 */
export class BusyRetry {
  #timeout: number;
  readonly #clock: Clock;
  readonly #random: () => number;

  constructor(timeout: number, clock: Clock = systemClock, random: () => number = uniform) {
    this.#timeout = timeout;
    this.#clock = clock;
    this.#random = random;
  }

  /** The busy timeout in ms (0: SQLITE_BUSY is thrown at once). `PRAGMA busy_timeout` reads and sets it. */
  get timeout(): number {
    return this.#timeout;
  }

  set timeout(ms: number) {
    this.#timeout = ms;
  }

  /** Now, by the clock: when work that `pause` may wait for starts. */
  start(): number {
    return this.#clock.now();
  }

  /**
   * Runs `attempt` until it succeeds, fails with an error `retryable` refuses, or the
   * timeout is spent; then rethrows the last error. A caller that made `firstTry`
   * tries already, the first at `started`, and waited after the last, passes both.
   */
  async run<T>(attempt: () => Promise<T>, retryable: (error: unknown) => boolean, started = this.#clock.now(), firstTry = 0): Promise<T> {
    for (let tries = firstTry; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (!retryable(error) || !(await this.pause(started, tries))) throw error;
      }
    }
  }

  /**
   * Waits before try number `tries + 1` of work that started at `started`, and resolves
   * to true; or resolves to false at once when the timeout is spent.
   */
  async pause(started: number, tries: number): Promise<boolean> {
    const left = this.#timeout - (this.#clock.now() - started);
    if (left <= 0) return false;
    const cap = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(tries, 20));
    await this.#clock.sleep(Math.min(left, Math.ceil(this.#random() * cap)));
    return true;
  }
}
