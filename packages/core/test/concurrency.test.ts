import { describe, expect, it } from 'vitest';
import { forEachLimit } from '@blockvfs/core/store';
import { tick } from './helpers.js';

describe('forEachLimit', () => {
  it('runs every item with at most `limit` at once', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick(n % 3);
      done.push(n);
      running--;
    });
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('takes any iterable, and still runs everything with a limit of NaN, 0 or Infinity', async () => {
    for (const limit of [Number.NaN, 0, -2, Infinity]) {
      const seen: number[] = [];
      await forEachLimit(new Set([1, 2, 3]), limit, async (n) => {
        seen.push(n);
      });
      expect(seen.sort()).toEqual([1, 2, 3]);
    }
    await forEachLimit([], 4, async () => {
      throw new Error('not called');
    });
  });

  it('rejects with the first failure after the started tasks settle, and starts no more', async () => {
    const settled: number[] = [];
    const error = await forEachLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      if (n === 1) throw new Error('one failed');
      await tick(10);
      settled.push(n);
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('one failed');
    expect(settled).toEqual([2]); // 2 was running when 1 failed; 3… never started
  });
});
