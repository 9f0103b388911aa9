import type { ByteRange } from './block-store.js';

/**
 * What every store must refuse, worded once: each store throws these reasons as its
 * own `invalid` BlockVfsError (so the message names the store) and adds its own limits.
 */

/** Why `key` cannot be a key of any store, or undefined when it can. */
export function keyProblem(key: unknown): string | undefined {
  return typeof key === 'string' && key.length > 0 ? undefined : `a key must be a non-empty string, got ${JSON.stringify(key)}`;
}

/** Why `range` is not a byte range (whole, non-negative numbers), or undefined when it is. */
export function rangeProblem(range: ByteRange): string | undefined {
  const { offset, length } = range;
  const ok = Number.isSafeInteger(offset) && offset >= 0 && (length === undefined || (Number.isSafeInteger(length) && length >= 0));
  return ok ? undefined : `bad range ${JSON.stringify(range)}`;
}
