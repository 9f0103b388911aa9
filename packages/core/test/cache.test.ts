import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { isBlockVfsError, withCache, withMetrics, type BlockStore } from '@blockvfs/core';
import { withFaults } from '@blockvfs/core/testing';
import type { ByteRange } from '@blockvfs/core/store';
import { pattern } from './helpers.js';

function setup(maxBytes = 1 << 20) {
  const memory = new MemoryStore({ name: 'cached-mem' });
  const inner = withMetrics(memory);
  const store = withCache(inner, { maxBytes });
  return { memory, inner, store };
}

describe('withCache', () => {
  it('keeps the name and capabilities of the inner store', () => {
    const { memory, store } = setup();
    expect(store.name).toBe('cached-mem');
    expect(store.capabilities).toEqual(memory.capabilities);
  });

  it('answers a repeated get from memory', async () => {
    const { memory, inner, store } = setup();
    await memory.put('k', pattern(100, 1));
    expect(await store.get('k')).toEqual(pattern(100, 1));
    expect(await store.get('k')).toEqual(pattern(100, 1));
    expect(await store.get('k')).toEqual(pattern(100, 1));
    expect(inner.metrics.get).toBe(1);
    expect(store.cache).toMatchObject({ hits: 2, misses: 1, entries: 1, bytes: 100 });
  });

  it('serves a ranged get from a cached whole object, clipped like a store', async () => {
    const { memory, inner, store } = setup();
    await memory.put('k', pattern(100, 2));
    await store.get('k');
    const ranges: ByteRange[] = [
      { offset: 10, length: 20 },
      { offset: 90 },
      { offset: 95, length: 50 },
      { offset: 100 },
      { offset: 500, length: 3 },
      { offset: 0, length: 0 },
    ];
    for (const range of ranges) expect(await store.get('k', range)).toEqual(await memory.get('k', range));
    expect(inner.metrics.get).toBe(1);
    expect(store.cache.hits).toBe(ranges.length);
  });

  it('sends a ranged get to the store on a miss, and does not cache its part as the whole', async () => {
    const { memory, inner, store } = setup();
    await memory.put('k', pattern(100, 3));
    expect(await store.get('k', { offset: 0, length: 10 })).toEqual(pattern(100, 3).subarray(0, 10));
    expect(store.cache.entries).toBe(0);
    expect(await store.get('k')).toEqual(pattern(100, 3));
    expect(inner.metrics.get).toBe(2);
  });

  it('does not cache missing keys', async () => {
    const { inner, store } = setup();
    expect(await store.get('nope')).toBeUndefined();
    expect(await store.get('nope')).toBeUndefined();
    expect(inner.metrics.get).toBe(2);
    expect(store.cache).toMatchObject({ hits: 0, misses: 2, entries: 0 });
  });

  it('caches what it writes, as a copy of the caller’s bytes', async () => {
    const { inner, store } = setup();
    const data = pattern(50, 4);
    await store.put('k', data);
    data.fill(0); // the caller reuses its buffer
    expect(await store.get('k')).toEqual(pattern(50, 4));
    expect(inner.metrics.get).toBe(0);
  });

  it('hands out copies that callers may mutate', async () => {
    const { memory, store } = setup();
    await memory.put('k', pattern(20, 5));
    const first = await store.get('k');
    first?.fill(7);
    const ranged = await store.get('k', { offset: 0, length: 5 });
    ranged?.fill(7);
    expect(await store.get('k')).toEqual(pattern(20, 5));
  });

  it('updates on put and forgets on delete', async () => {
    const { memory, inner, store } = setup();
    await store.put('k', pattern(10, 6));
    await store.put('k', pattern(12, 7));
    expect(await store.get('k')).toEqual(pattern(12, 7));
    await store.delete(['k', 'other']);
    expect(await memory.get('k')).toBeUndefined();
    expect(await store.get('k')).toBeUndefined();
    expect(inner.metrics.get).toBe(1);
  });

  it('evicts the key when a conditional put fails', async () => {
    const { memory, inner, store } = setup();
    await store.put('k', pattern(10, 8));
    await memory.put('k', pattern(10, 9)); // another writer, unseen by the cache
    const error = await store.put('k', pattern(10, 10), { ifMatch: 'stale-etag' }).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
    expect(await store.get('k')).toEqual(pattern(10, 9)); // read from the store, not the evicted copy
    expect(inner.metrics.get).toBe(1);
  });

  it('forgets a key whose put failed after it reached the store', async () => {
    const memory = new MemoryStore();
    const store = withCache(withFaults(memory, { at: 2, ops: ['put'], mode: 'fail-after' }), { maxBytes: 1 << 20 });
    await store.put('k', pattern(10, 1));
    await expect(store.put('k', pattern(10, 2))).rejects.toThrow(/injected fault/);
    expect(await store.get('k')).toEqual(pattern(10, 2)); // what the store holds, not the old cached copy
    expect(store.cache.misses).toBe(1);
  });

  it('holds at most maxBytes, least recently used out first', async () => {
    const { inner, store } = setup(10_000);
    for (let i = 0; i < 3; i++) await store.put(`k${i}`, pattern(3000, i));
    await store.get('k0'); // k1 is now the least recently used
    await store.put('k3', pattern(3000, 3));
    expect(store.cache.bytes).toBeLessThanOrEqual(10_000);
    expect(store.cache.entries).toBe(3);
    inner.resetMetrics();
    for (const key of ['k0', 'k2', 'k3']) await store.get(key);
    expect(inner.metrics.get).toBe(0);
    expect(await store.get('k1')).toEqual(pattern(3000, 1));
    expect(inner.metrics.get).toBe(1);
    expect(store.cache.bytes).toBeLessThanOrEqual(10_000);
  });

  it('does not keep an object larger than maxBytes, and counts an empty one', async () => {
    const { store } = setup(1000);
    await store.put('big', pattern(1001, 1));
    expect(store.cache.entries).toBe(0);
    expect(await store.get('big')).toEqual(pattern(1001, 1));
    expect(store.cache.entries).toBe(0);
    await store.put('empty', new Uint8Array(0));
    expect(await store.get('empty')).toEqual(new Uint8Array(0));
    expect(store.cache).toMatchObject({ entries: 1, bytes: 1, hits: 1 });
  });

  it('clear() drops every object; resetStats() zeroes the counters', async () => {
    const { inner, store } = setup();
    await store.put('k', pattern(10, 1));
    store.cache.clear();
    expect(store.cache.entries).toBe(0);
    await store.get('k');
    expect(inner.metrics.get).toBe(1);
    store.cache.resetStats();
    expect(store.cache).toMatchObject({ hits: 0, misses: 0 });
  });

  it('does not cache what a get read before a concurrent put or delete', async () => {
    // A store whose gets wait for the test to let them finish, after reading.
    const memory = new MemoryStore();
    const gates: Array<() => void> = [];
    const gated: BlockStore = {
      name: memory.name,
      capabilities: memory.capabilities,
      get: async (key, range) => {
        const data = await memory.get(key, range);
        await new Promise<void>((resolve) => gates.push(resolve));
        return data;
      },
      put: (key, data, condition) => memory.put(key, data, condition),
      delete: (keys) => memory.delete(keys),
      list: (prefix, options) => memory.list(prefix, options),
    };
    const store = withCache(gated, { maxBytes: 1 << 20 });
    await memory.put('k', pattern(10, 1));
    const slowRead = store.get('k');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await store.put('k', pattern(10, 2)); // done while the read still holds the old bytes
    gates.shift()?.();
    expect(await slowRead).toEqual(pattern(10, 1));
    expect(await store.get('k')).toEqual(pattern(10, 2)); // a hit on what put wrote, not on the stale read
    expect(store.cache.hits).toBe(1);

    store.cache.clear();
    const readBeforeDelete = store.get('k');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await store.delete(['k']); // done while the read still holds the bytes
    gates.shift()?.();
    expect(await readBeforeDelete).toEqual(pattern(10, 2));
    const after = store.get('k'); // must go to the store
    await new Promise((resolve) => setTimeout(resolve, 0));
    gates.shift()?.();
    expect(await after).toBeUndefined();
  });

  it('refuses a bad maxBytes', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => withCache(new MemoryStore(), { maxBytes })).toThrow(expect.objectContaining({ kind: 'invalid' }));
    }
  });
});
