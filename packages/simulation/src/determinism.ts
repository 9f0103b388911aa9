import type { Random } from './random.js';

/**
 * The environment of a run: the sources of nondeterminism the code under test reaches
 * for itself, made seeded or watched.
 *
 * - `crypto.getRandomValues` (commit tags, lease owners, SQLite's own randomness through
 *   wa-sqlite's xRandomness) and `Math.random` draw from the seed while a run lasts, so
 *   that two runs of a seed write the same keys and take the same branches.
 * - `Date.now`, `setTimeout` and `setInterval` still work, but a call from core or the
 *   VFS is recorded: on the paths a run takes, time must come only from the injected
 *   clock. The report lists any such call with its stack.
 */

export interface RealTimeUse {
  what: string;
  stack: string;
}

/** Frames of the code under test (sources under vitest, builds under the CLI). */
const UNDER_TEST = /packages\/(core|vfs-wasqlite|serialize)\/|wa-sqlite\/src\//;
/**
 * Emscripten's start-up of a SQLite module (each Database gets one, and a run opens
 * more than the idle pool holds when crashed processes abandon theirs): it stamps the
 * nodes of wa-sqlite's in-memory file system with Date.now, which nothing reads (the
 * VFS serves every file). Real time there decides nothing.
 */
const MODULE_START = /\bat (Object\.)?staticInit \(/;

export interface Environment {
  /** Calls to real time from the code under test during the run. */
  readonly realTime: RealTimeUse[];
  /** Math.random calls during the run (from anywhere; the code under test should make none). */
  mathRandomCalls: number;
  restore(): void;
}

export function installEnvironment(random: Random): Environment {
  const cryptoObject = globalThis.crypto as object;
  const originalMathRandom = Math.random;
  const originalDateNow = Date.now;
  const originalSetTimeout = globalThis.setTimeout;
  const originalSetInterval = globalThis.setInterval;
  const environment: Environment = {
    realTime: [],
    mathRandomCalls: 0,
    restore() {
      delete (cryptoObject as { getRandomValues?: unknown }).getRandomValues;
      Math.random = originalMathRandom;
      Date.now = originalDateNow;
      globalThis.setTimeout = originalSetTimeout;
      globalThis.setInterval = originalSetInterval;
    },
  };
  const watch = (what: string): void => {
    const stack = new Error().stack ?? '';
    const frames = stack.split('\n').slice(2);
    if (frames.some((frame) => MODULE_START.test(frame))) return;
    if (frames.some((frame) => UNDER_TEST.test(frame)) && environment.realTime.length < 20) {
      environment.realTime.push({ what, stack: frames.slice(0, 8).join('\n') });
    }
  };

  Object.defineProperty(cryptoObject, 'getRandomValues', {
    configurable: true,
    writable: true,
    value: <T extends ArrayBufferView | null>(array: T): T => {
      if (array) random.fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    },
  });
  Math.random = () => {
    environment.mathRandomCalls += 1;
    return random.float();
  };
  Date.now = () => {
    watch('Date.now');
    return originalDateNow();
  };
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    watch('setTimeout');
    return originalSetTimeout(...args);
  }) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    watch('setInterval');
    return originalSetInterval(...args);
  }) as typeof setInterval;
  return environment;
}
