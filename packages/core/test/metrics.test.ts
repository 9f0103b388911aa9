import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { isBlockVfsError, withMetrics } from '@blockvfs/core';
import { fill, withCapabilities } from './helpers.js';

async function drain(iterable: AsyncIterable<unknown>, stopAfter = Infinity): Promise<number> {
  let n = 0;
  for await (const _ of iterable) if (++n >= stopAfter) break;
  return n;
}

describe('withMetrics', () => {
  it('keeps the name and capabilities of the inner store', () => {
    const inner = new MemoryStore({ name: 'mem-a' });
    const store = withMetrics(inner);
    expect(store.name).toBe('mem-a');
    expect(store.capabilities).toEqual(inner.capabilities);
  });

  it('counts gets, puts and bytes exactly', async () => {
    const store = withMetrics(new MemoryStore());
    await store.put('a', new Uint8Array(100));
    await store.put('b', new Uint8Array(7));
    await store.get('a');
    await store.get('a', { offset: 10, length: 20 });
    await store.get('missing');
    expect(store.metrics).toEqual({ get: 3, put: 2, delete: 0, list: 0, bytesRead: 120, bytesWritten: 107, keysDeleted: 0, keysListed: 0 });
  });

  it('counts a delete as one request per started batch of maxDeleteBatch keys', async () => {
    const store = withMetrics(withCapabilities(new MemoryStore(), { maxDeleteBatch: 1000 }));
    await store.delete([]);
    expect(store.metrics.delete).toBe(0);
    await store.delete(['x']);
    expect(store.metrics.delete).toBe(1);
    await store.delete(Array.from({ length: 1000 }, (_, i) => `k${i}`));
    expect(store.metrics.delete).toBe(2);
    await store.delete(Array.from({ length: 2001 }, (_, i) => `k${i}`));
    expect(store.metrics).toMatchObject({ delete: 5, keysDeleted: 3002 });
  });

  it('counts a list as one request per started 1000 entries, and at least one', async () => {
    const inner = new MemoryStore();
    await fill(inner, 'a/', 1000);
    await fill(inner, 'b/', 1001);
    await fill(inner, 'c/', 2500);
    const store = withMetrics(inner);
    const requestsFor = async (prefix: string, stopAfter?: number): Promise<number> => {
      store.resetMetrics();
      const seen = await drain(store.list(prefix), stopAfter);
      expect(store.metrics.keysListed).toBe(seen);
      return store.metrics.list;
    };
    expect(await requestsFor('none/')).toBe(1);
    expect(await requestsFor('a/')).toBe(1);
    expect(await requestsFor('b/')).toBe(2);
    expect(await requestsFor('c/')).toBe(3);
    expect(await requestsFor('c/', 1000)).toBe(1); // stopped before entry 1001: no second page
    expect(await requestsFor('c/', 1001)).toBe(2);
    store.resetMetrics();
    store.list('c/'); // never iterated: no request
    expect(store.metrics.list).toBe(0);
  });

  it('counts failed requests too', async () => {
    const store = withMetrics(new MemoryStore());
    await store.put('a', new Uint8Array(3));
    const error = await store.put('a', new Uint8Array(5), { ifNoneMatch: '*' }).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
    await expect(store.get('')).rejects.toThrow(/non-empty/);
    expect(store.metrics).toMatchObject({ put: 2, bytesWritten: 8, get: 1, bytesRead: 0 });
  });

  it('hands out snapshots, and resets', async () => {
    const store = withMetrics(new MemoryStore());
    const before = store.metrics;
    await store.put('a', new Uint8Array(1));
    expect(before.put).toBe(0);
    expect(store.metrics.put).toBe(1);
    expect(Object.isFrozen(store.metrics)).toBe(true);
    store.resetMetrics();
    expect(store.metrics).toEqual({ get: 0, put: 0, delete: 0, list: 0, bytesRead: 0, bytesWritten: 0, keysDeleted: 0, keysListed: 0 });
  });

  it('passes data and results through unchanged', async () => {
    const inner = new MemoryStore();
    const store = withMetrics(inner);
    const { etag } = await store.put('k', new Uint8Array([1, 2, 3]));
    expect(await inner.get('k')).toEqual(new Uint8Array([1, 2, 3]));
    await store.put('k', new Uint8Array([4]), { ifMatch: etag });
    expect(await store.get('k')).toEqual(new Uint8Array([4]));
    await store.delete(['k']);
    expect(await inner.get('k')).toBeUndefined();
  });
});
