import type { BlockStore } from '@blockvfs/core';
import type { ListEntry, StoreCapabilities } from '@blockvfs/core/store';

/** `length` bytes that differ from one call to the next (by `seed`) and along the array. */
export function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 17 + 1) % 251;
  return bytes;
}

export async function listAll(store: BlockStore, prefix: string): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  for await (const entry of store.list(prefix)) entries.push(entry);
  return entries;
}

/** Every object of the store under `prefix`, as key → size. */
export async function objectSizes(store: BlockStore, prefix: string): Promise<Array<[string, number]>> {
  return (await listAll(store, prefix)).map((entry) => [entry.key, entry.size]);
}

/** The same store, announcing other capabilities (e.g. a small delete batch, as S3's 1000). */
export function withCapabilities(store: BlockStore, capabilities: Partial<StoreCapabilities>): BlockStore {
  return {
    name: store.name,
    capabilities: { ...store.capabilities, ...capabilities },
    get: (key, range) => store.get(key, range),
    put: (key, data, condition) => store.put(key, data, condition),
    delete: (keys) => store.delete(keys),
    list: (prefix, options) => store.list(prefix, options),
  };
}

/** Puts `count` one-byte objects `<prefix>00000`…, for listing tests. */
export async function fill(store: BlockStore, prefix: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
  await Promise.all(keys.map((key) => store.put(key, new Uint8Array([1]))));
  return keys;
}

/** Settles queued promise callbacks and timers that are already due. */
export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Fails unless `actual` and `expected` hold the same bytes. Much faster than
 * `toEqual` on large arrays; on a mismatch it names the first differing offset.
 */
export function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array, what = 'bytes'): void {
  if (actual === undefined) throw new Error(`${what}: got undefined, expected ${expected.length} bytes`);
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  throw new Error(
    `${what} differ: lengths ${actual.length} and ${expected.length}, first difference at offset ${at} ` +
      `(got ${actual[at] ?? 'end'}, expected ${expected[at] ?? 'end'})`,
  );
}
