import assert from 'node:assert/strict';
import { ERROR_KINDS, isBlockVfsError, type BlockStore, type BlockVfsError, type ErrorKind, type ListEntry, type ListOptions } from '@blockvfs/core/store';

/**
 * True when `error` is a BlockVfsError of a known kind. Checked by its brand (a
 * process-wide symbol), not by `instanceof` alone, so that a third-party store built
 * against another copy of @blockvfs/core still passes.
 */
function isBlockVfsErrorLike(error: unknown): error is BlockVfsError {
  return isBlockVfsError(error) && ERROR_KINDS.includes(error.kind);
}

/**
 * Awaits `promise`, expects it to reject with a BlockVfsError of `kind` raised by `store`
 * (its message names the store, so that a user can tell which backend failed), and
 * returns the error.
 */
export async function rejectsWithKind(store: BlockStore, promise: Promise<unknown>, kind: ErrorKind, what: string): Promise<BlockVfsError> {
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: await promise };
  } catch (error) {
    outcome = { error };
  }
  if ('value' in outcome) assert.fail(`${what}: expected a BlockVfsError of kind "${kind}", but it succeeded`);
  const { error } = outcome;
  assertBlockVfsError(store, error, what);
  assert.equal(error.kind, kind, `${what}: expected kind "${kind}", got "${error.kind}" (${error.message})`);
  return error;
}

/** Any BlockVfsError from `store`: the shape, the store's name in the error and in its message. */
export function assertBlockVfsError(store: BlockStore, error: unknown, what: string): asserts error is BlockVfsError {
  if (!isBlockVfsErrorLike(error)) {
    assert.fail(`${what}: expected a BlockVfsError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
  assert.equal(error.store, store.name, `${what}: error.store should be the store's name`);
  assert.ok(error.message.includes(store.name), `${what}: the message should name the store "${store.name}": ${error.message}`);
}

/** Every entry of a listing, in the order the store gave them. */
export async function listAll(store: BlockStore, prefix: string, options?: ListOptions): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  for await (const entry of store.list(prefix, options)) entries.push(entry);
  return entries;
}

/** The keys of a listing. */
export async function listKeys(store: BlockStore, prefix: string, options?: ListOptions): Promise<string[]> {
  return (await listAll(store, prefix, options)).map((entry) => entry.key);
}

/** The contract's order: by UTF-16 code unit, which is what `<` on strings compares. */
export function sortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Compares two key lists and reports the first difference instead of two long arrays. */
export function assertKeys(actual: readonly string[], expected: readonly string[], what: string): void {
  const length = Math.max(actual.length, expected.length);
  for (let i = 0; i < length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${what}: keys differ at position ${i} of ${expected.length} expected / ${actual.length} listed: ` +
          `expected ${JSON.stringify(expected[i])}, got ${JSON.stringify(actual[i])} ` +
          `(around: ${JSON.stringify(actual.slice(Math.max(0, i - 2), i + 3))})`,
      );
    }
  }
}
