import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { BlockVfsError, isBlockVfsError, withMetrics } from '@blockvfs/core';
import { directBlockKey } from '@blockvfs/core/format';
import { withFaults, type FaultOptions } from '@blockvfs/core/testing';
import { fill, tick, withCapabilities } from './helpers.js';

/** Runs `count` gets and returns the 1-based indexes of those that faulted. */
async function faultedGets(options: FaultOptions, count: number): Promise<number[]> {
  const store = withFaults(new MemoryStore(), options);
  const faulted: number[] = [];
  for (let i = 1; i <= count; i++) {
    try {
      await store.get('k');
    } catch (error) {
      if (!isBlockVfsError(error)) throw error;
      faulted.push(i);
    }
  }
  expect(store.faults).toMatchObject({ requests: count, injected: faulted.length });
  return faulted;
}

describe('withFaults', () => {
  it('keeps the name and capabilities of the inner store', () => {
    const inner = new MemoryStore({ name: 'flaky' });
    const store = withFaults(inner, { at: 1 });
    expect(store.name).toBe('flaky');
    expect(store.capabilities).toEqual(inner.capabilities);
  });

  it('faults request N with a transient BlockVfsError naming the request and the inner store', async () => {
    const inner = new MemoryStore({ name: 'mem-x' });
    const store = withFaults(inner, { at: 3 });
    await store.put(directBlockKey('db', 1), new Uint8Array([1]));
    await store.get(directBlockKey('db', 1));
    const error = await store.put(directBlockKey('db', 3), new Uint8Array([3])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockVfsError);
    expect(error).toMatchObject({ kind: 'transient', store: 'mem-x', source: '@blockvfs/core' });
    expect((error as Error).message).toBe('@blockvfs/core (mem-x): injected fault: put "db/0000000003" (request 3)');
    expect(await inner.get(directBlockKey('db', 3))).toBeUndefined(); // 'fail': the request was not made
    await store.put(directBlockKey('db', 3), new Uint8Array([3]));
    expect(store.faults).toMatchObject({ requests: 4, injected: 1 });
  });

  it('faults a list of indexes, every Nth request, or both', async () => {
    expect(await faultedGets({ at: [2, 5, 100] }, 10)).toEqual([2, 5]);
    expect(await faultedGets({ every: 3 }, 10)).toEqual([3, 6, 9]);
    expect(await faultedGets({ every: 4, at: 1 }, 10)).toEqual([1, 4, 8]);
    expect(await faultedGets({ at: [] }, 5)).toEqual([]);
  });

  it('faults every request when no trigger is given', async () => {
    expect(await faultedGets({}, 4)).toEqual([1, 2, 3, 4]);
  });

  it('draws probabilistic faults from a seeded PRNG: same seed, same faults', async () => {
    const a = await faultedGets({ probability: 0.3, seed: 42 }, 300);
    const b = await faultedGets({ probability: 0.3, seed: 42 }, 300);
    const c = await faultedGets({ probability: 0.3, seed: 43 }, 300);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.length).toBeGreaterThan(45); // 90 expected
    expect(a.length).toBeLessThan(135);
    expect(await faultedGets({ probability: 0 }, 50)).toEqual([]);
    expect(await faultedGets({ probability: 1 }, 5)).toEqual([1, 2, 3, 4, 5]);
  });

  it("mode 'fail-after' makes the request, then rejects", async () => {
    const inner = new MemoryStore();
    const store = withFaults(inner, { at: 1, mode: 'fail-after' });
    await expect(store.put('k', new Uint8Array([9]))).rejects.toThrow(/injected fault: put "k" \(request 1\)/);
    expect(await inner.get('k')).toEqual(new Uint8Array([9]));
  });

  it("mode 'hang' never settles until releaseHung(), then rejects", async () => {
    const inner = new MemoryStore();
    const store = withFaults(inner, { at: [1, 2], mode: 'hang' });
    let settled = false;
    const first = store.put('a', new Uint8Array([1])).finally(() => (settled = true));
    const second = store.get('a');
    const third = store.put('b', new Uint8Array([2]));
    await third; // unaffected
    await tick(20);
    expect(settled).toBe(false);
    expect(await inner.get('a')).toBeUndefined();
    store.faults.releaseHung();
    await expect(first).rejects.toThrow(/request 1/);
    await expect(second).rejects.toThrow(/request 2/);
    expect(await inner.get('a')).toBeUndefined(); // a hung request was never made
  });

  it('counts and faults only the selected operations', async () => {
    const store = withFaults(new MemoryStore(), { ops: ['put'], every: 2 });
    await store.put('a', new Uint8Array(1));
    for (let i = 0; i < 5; i++) await store.get('a');
    await store.delete(['x']);
    for await (const _ of store.list(''));
    await expect(store.put('b', new Uint8Array(1))).rejects.toThrow(/request 2/);
    expect(store.faults).toMatchObject({ requests: 2, injected: 1 });
  });

  it('disable() stops injecting but keeps counting; enable() resumes', async () => {
    const store = withFaults(new MemoryStore(), { every: 2 });
    store.faults.disable();
    for (let i = 0; i < 4; i++) await store.get('k');
    store.faults.enable();
    await store.get('k'); // request 5
    await expect(store.get('k')).rejects.toThrow(/request 6/);
    expect(store.faults).toMatchObject({ requests: 6, injected: 1 });
  });

  it('keeps the probabilistic sequence while disabled', async () => {
    const reference = await faultedGets({ probability: 0.5, seed: 7 }, 40);
    const store = withFaults(new MemoryStore(), { probability: 0.5, seed: 7 });
    store.faults.disable();
    for (let i = 0; i < 20; i++) await store.get('k');
    store.faults.enable();
    const faulted: number[] = [];
    for (let i = 21; i <= 40; i++) await store.get('k').catch(() => faulted.push(i));
    expect(faulted).toEqual(reference.filter((i) => i > 20));
  });

  it('uses the kind asked for', async () => {
    const store = withFaults(new MemoryStore(), { at: 1, kind: 'permanent' });
    const error = await store.get('k').catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
  });

  it('counts a delete per batch of maxDeleteBatch keys, sent in order', async () => {
    const inner = new MemoryStore();
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    for (const key of keys) await inner.put(key, new Uint8Array(1));
    const metered = withMetrics(withCapabilities(inner, { maxDeleteBatch: 2 }));
    const store = withFaults(metered, { at: 2, ops: ['delete'] });
    await expect(store.delete(keys)).rejects.toThrow(/injected fault: delete 2 keys from "k3" \(request 2\)/);
    expect(await inner.get('k1')).toBeUndefined();
    expect(await inner.get('k3')).toEqual(new Uint8Array(1));
    expect(await inner.get('k5')).toEqual(new Uint8Array(1));
    expect(metered.metrics.delete).toBe(1);
    await store.delete(keys);
    expect(store.faults.requests).toBe(5);
    expect(await inner.get('k5')).toBeUndefined();
  });

  it('faults a list at its first page or at a later one', async () => {
    const inner = new MemoryStore();
    await fill(inner, 'p/', 1500);
    const atStart = withFaults(inner, { at: 1 });
    await expect(async () => {
      for await (const _ of atStart.list('p/'));
    }).rejects.toThrow('injected fault: list "p/" (request 1)');

    const later = withFaults(inner, { at: 2, ops: ['list'] });
    let seen = 0;
    await expect(async () => {
      for await (const _ of later.list('p/')) seen++;
    }).rejects.toThrow('injected fault: list "p/" page 2 (request 2)');
    expect(seen).toBe(1000);

    const after = withFaults(inner, { at: 1, mode: 'fail-after' });
    await expect(async () => {
      for await (const _ of after.list('p/'));
    }).rejects.toThrow(/request 1/);
  });

  it('refuses bad options', () => {
    const bad: FaultOptions[] = [{ every: 0 }, { every: 1.5 }, { probability: 2 }, { probability: Number.NaN }, { at: 0 }, { at: [1, -3] }];
    for (const options of bad) expect(() => withFaults(new MemoryStore(), options)).toThrow(expect.objectContaining({ kind: 'invalid' }));
  });
});
