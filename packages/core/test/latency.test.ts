import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { withLatency } from '@blockvfs/core/testing';
import { fill } from './helpers.js';

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

describe('withLatency', () => {
  it('waits at least the given time before each request', async () => {
    const inner = new MemoryStore({ name: 'slow' });
    const store = withLatency(inner, { ms: 25 });
    expect(store.name).toBe('slow');
    expect(store.capabilities).toEqual(inner.capabilities);
    expect(await timed(() => store.put('k', new Uint8Array([1])))).toBeGreaterThanOrEqual(25);
    expect(await timed(() => store.get('k'))).toBeGreaterThanOrEqual(25);
    expect(await timed(() => store.delete(['k']))).toBeGreaterThanOrEqual(25);
    expect(await inner.get('k')).toBeUndefined();
  });

  it('accepts a plain number, and runs requests in parallel (a delay, not a queue)', async () => {
    const store = withLatency(new MemoryStore(), 30);
    const elapsed = await timed(() => Promise.all(Array.from({ length: 10 }, (_, i) => store.put(`k${i}`, new Uint8Array([i])))));
    expect(elapsed).toBeGreaterThanOrEqual(30);
    expect(elapsed).toBeLessThan(10 * 30);
  });

  it('delays a list before its first page and before each further 1000 entries', async () => {
    const inner = new MemoryStore();
    await fill(inner, 'p/', 2001);
    const store = withLatency(inner, 20);
    let count = 0;
    const elapsed = await timed(async () => {
      for await (const _ of store.list('p/')) count++;
    });
    expect(count).toBe(2001);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 20);
    expect(
      await timed(async () => {
        for await (const _ of store.list('none/'));
      }),
    ).toBeGreaterThanOrEqual(20);
  });

  it('refuses a negative or non-finite delay', () => {
    for (const ms of [-1, Number.NaN, Infinity]) {
      expect(() => withLatency(new MemoryStore(), ms)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    }
  });
});
