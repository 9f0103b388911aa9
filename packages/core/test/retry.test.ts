import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { isBlockVfsError, withMetrics, withRetry, type BlockStore, type ErrorKind, type RetryEvent, type RetryOptions } from '@blockvfs/core';
import { withFaults, type FaultOptions } from '@blockvfs/core/testing';
import { fill, listAll } from './helpers.js';

/** memory ← metrics (what reached the store) ← faults (what was attempted) ← retry. */
function layered(faults: FaultOptions, retry: RetryOptions = {}) {
  const metered = withMetrics(new MemoryStore({ name: 'mem-r' }));
  const faulty = withFaults(metered, faults);
  const events: RetryEvent[] = [];
  const store = withRetry(faulty, { baseDelayMs: 0, ...retry, onRetry: (event) => events.push(event) });
  return { store, metered, faulty, events };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('withRetry', () => {
  it('keeps the name and capabilities of the inner store', () => {
    const inner = new MemoryStore({ name: 'inner' });
    const store = withRetry(inner);
    expect(store.name).toBe('inner');
    expect(store.capabilities).toEqual(inner.capabilities);
  });

  it('retries transient failures of every operation until one succeeds', async () => {
    const { store, metered, faulty, events } = layered({ at: [1, 2, 4, 6] });
    await store.put('k', new Uint8Array([1, 2, 3])); // requests 1, 2 fault; 3 succeeds
    expect(await store.get('k')).toEqual(new Uint8Array([1, 2, 3])); // 4 faults, 5 succeeds
    await store.delete(['k']); // 6 faults, 7 succeeds
    expect(await store.get('k')).toBeUndefined();
    expect(faulty.faults).toMatchObject({ requests: 8, injected: 4 });
    expect(metered.metrics).toMatchObject({ put: 1, get: 2, delete: 1 }); // 'fail' faults never reach the store
    expect(events.map((e) => [e.op, e.key, e.attempt])).toEqual([
      ['put', 'k', 1],
      ['put', 'k', 2],
      ['get', 'k', 1],
      ['delete', 'k', 1],
    ]);
    expect(events.every((e) => e.error.kind === 'transient')).toBe(true);
  });

  it('gives up after `retries` retries and throws the last transient error as it was', async () => {
    const { store, faulty, events } = layered({}, { retries: 3 }); // every request faults
    const error = await rejection(store.get('k'));
    expect(isBlockVfsError(error, 'transient')).toBe(true);
    expect((error as Error).message).toBe('@blockvfs/core (mem-r): injected fault: get "k" (request 4)');
    expect(faulty.faults.requests).toBe(4);
    expect(events).toHaveLength(3);
  });

  it('retries: 0 makes exactly one attempt', async () => {
    const { store, faulty } = layered({}, { retries: 0 });
    await rejection(store.put('k', new Uint8Array(1)));
    expect(faulty.faults.requests).toBe(1);
  });

  it.each<ErrorKind>(['permanent', 'invalid', 'not-found', 'precondition-failed'])('does not retry a %s error', async (kind) => {
    const { store, faulty, events } = layered({ kind });
    const error = await rejection(store.get('k'));
    expect(isBlockVfsError(error, kind)).toBe(true);
    expect(faulty.faults.requests).toBe(1);
    expect(events).toEqual([]);
  });

  it('does not retry a lost condition from the store itself, nor errors that are not BlockVfsErrors', async () => {
    const inner = new MemoryStore();
    await inner.put('k', new Uint8Array([1]));
    const metered = withMetrics(inner);
    const store = withRetry(metered, { baseDelayMs: 0 });
    const lost = await rejection(store.put('k', new Uint8Array([2]), { ifNoneMatch: '*' }));
    expect(isBlockVfsError(lost, 'precondition-failed')).toBe(true);
    expect(metered.metrics.put).toBe(1);

    let calls = 0;
    const broken: BlockStore = {
      ...inner,
      name: 'broken',
      capabilities: inner.capabilities,
      get: async () => {
        calls += 1;
        throw new TypeError('a bug, not an outage');
      },
      put: (key, data, condition) => inner.put(key, data, condition),
      delete: (keys) => inner.delete(keys),
      list: (prefix, options) => inner.list(prefix, options),
    };
    expect(await rejection(withRetry(broken, { baseDelayMs: 0 }).get('k'))).toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
  });

  it('waits with exponential backoff, capped, with full jitter', async () => {
    const capped = layered({ at: [1, 2, 3, 4, 5] }, { baseDelayMs: 1, maxDelayMs: 5, random: () => 0.999 });
    await capped.store.get('k');
    expect(capped.events.map((e) => e.delayMs.toFixed(3))).toEqual(['0.999', '1.998', '3.996', '4.995', '4.995']);

    const halved = layered({ at: [1, 2, 3] }, { baseDelayMs: 4, maxDelayMs: 100, random: () => 0.5 });
    await halved.store.get('k');
    expect(halved.events.map((e) => e.delayMs)).toEqual([2, 4, 8]);

    // The wait is real: three retries with delays of 10, 20 and 40 ms take about 70 ms (timers may fire a millisecond early).
    const timed = layered({ at: [1, 2, 3] }, { baseDelayMs: 10, maxDelayMs: 1000, random: () => 1 - Number.EPSILON });
    const started = performance.now();
    await timed.store.get('k');
    expect(performance.now() - started).toBeGreaterThanOrEqual(60);
  });

  it('resumes a listing that failed part-way after the last key it yielded: every key once, in order', async () => {
    const metered = withMetrics(new MemoryStore());
    const keys = await fill(metered, 'k/', 2500);
    await metered.put('other', new Uint8Array(1));
    // withFaults counts one list request per started 1000 entries: fault pages 2 and 3 (3 is the retry of 2).
    const faulty = withFaults(metered, { at: [2, 3], ops: ['list'] });
    const events: RetryEvent[] = [];
    const store = withRetry(faulty, { baseDelayMs: 0, onRetry: (event) => events.push(event) });
    expect((await listAll(store, 'k/')).map((entry) => entry.key)).toEqual(keys);
    expect(events.map((e) => [e.op, e.key, e.attempt])).toEqual([
      ['list', 'k/', 1],
      ['list', 'k/', 2],
    ]);
    // startAfter given by the caller is kept for the first listing and then moves on.
    const after: string[] = [];
    for await (const entry of withRetry(withFaults(metered, { at: 2, ops: ['list'] }), { baseDelayMs: 0 }).list('k/', { startAfter: 'k/00999' })) {
      after.push(entry.key);
    }
    expect(after).toEqual(keys.slice(1000));
  });

  it('gives up on a listing that keeps failing without progress', async () => {
    const inner = new MemoryStore();
    await fill(inner, 'k/', 10);
    const faulty = withFaults(inner, { ops: ['list'] });
    const store = withRetry(faulty, { retries: 2, baseDelayMs: 0 });
    const error = await rejection(listAll(store, 'k/'));
    expect(isBlockVfsError(error, 'transient')).toBe(true);
    expect(faulty.faults.requests).toBe(3);
  });

  it('rejects bad options with an invalid error', () => {
    const inner = new MemoryStore();
    for (const options of [{ retries: -1 }, { retries: 1.5 }, { baseDelayMs: -1 }, { maxDelayMs: Number.NaN }]) {
      let error: unknown;
      try {
        withRetry(inner, options);
      } catch (e) {
        error = e;
      }
      expect(isBlockVfsError(error, 'invalid'), JSON.stringify(options)).toBe(true);
    }
  });
});
