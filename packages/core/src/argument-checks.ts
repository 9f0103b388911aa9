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

/**
 * The largest block size: every read of a byte costs its whole block, so past a few
 * MiB blocks only make reads slower and memory spikier (and a cloud's single PUT has
 * limits of its own).
 */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;

/** Why `blockSize` is not a block size (an integer of 1 byte to MAX_BLOCK_SIZE), or undefined when it is. */
export function blockSizeProblem(blockSize: unknown): string | undefined {
  const ok = typeof blockSize === 'number' && Number.isSafeInteger(blockSize) && blockSize >= 1 && blockSize <= MAX_BLOCK_SIZE;
  return ok ? undefined : `block size must be an integer of 1 to ${MAX_BLOCK_SIZE} bytes (16 MiB), got ${String(blockSize)}`;
}

/** Why `store` is not a usable BlockStore (methods and capabilities), or undefined when it is. */
export function storeProblem(store: unknown): string | undefined {
  if (typeof store !== 'object' || store === null) return `a store must be a BlockStore object, got ${store === null ? 'null' : typeof store}`;
  const s = store as Record<string, unknown>;
  const missing = ['get', 'put', 'delete', 'list'].filter((method) => typeof s[method] !== 'function');
  if (missing.length > 0) return `a store must be a BlockStore: it has no ${missing.join(', ')} method${missing.length > 1 ? 's' : ''}`;
  const capabilities = s.capabilities as Record<string, unknown> | undefined;
  if (typeof capabilities !== 'object' || capabilities === null)
    return 'a store must say what it can do: it has no "capabilities" ({ conditionalPut, rangeGet, maxDeleteBatch })';
  if (typeof capabilities.conditionalPut !== 'boolean' || typeof capabilities.rangeGet !== 'boolean') {
    return 'a store\'s capabilities must have boolean "conditionalPut" and "rangeGet"';
  }
  if (!(Number.isSafeInteger(capabilities.maxDeleteBatch) && (capabilities.maxDeleteBatch as number) >= 1)) {
    return 'a store\'s capabilities must have "maxDeleteBatch", a positive integer';
  }
  return undefined;
}
