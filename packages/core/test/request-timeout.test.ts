import { describe, expect, it } from 'vitest';
import { RequestTimeoutError, requestTimeoutProblem, withRequestTimeout } from '@blockvfs/core/store';

describe('withRequestTimeout', () => {
  it('gives the attempt a signal and its result when it finishes in time', async () => {
    let seen: AbortSignal | undefined;
    const result = await withRequestTimeout(1000, async (signal) => {
      seen = signal;
      return 'done';
    });
    expect(result).toBe('done');
    expect(seen?.aborted).toBe(false);
  });

  it('rejects with a RequestTimeoutError when the time is up, and aborts the signal, even if the attempt never notices', async () => {
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const error = await withRequestTimeout(50, (signal) => {
      seen = signal;
      return new Promise(() => undefined); // an SDK call that ignores its signal
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as Error).message).toBe('timed out after 50 ms');
    expect(seen?.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reports the timeout, not the SDK’s abort error, when the attempt rejects on the abort first', async () => {
    const error = await withRequestTimeout(
      20,
      (signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('AbortError')))),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
  });

  it('times each request of a shared controller, and a timeout aborts the rest of the sequence', async () => {
    const controller = new AbortController();
    expect(await withRequestTimeout(1000, async () => 'page 1', controller)).toBe('page 1');
    await expect(withRequestTimeout(20, () => new Promise(() => undefined), controller)).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(withRequestTimeout(1000, async () => 'page 3', controller)).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('false runs without a timeout or a signal; bad values are named', async () => {
    expect(await withRequestTimeout(false, async (signal) => signal)).toBeUndefined();
    expect(requestTimeoutProblem(false)).toBeUndefined();
    expect(requestTimeoutProblem(30_000)).toBeUndefined();
    expect(requestTimeoutProblem(0)).toMatch(/false turns the timeout off/);
    expect(requestTimeoutProblem(1.5)).toMatch(/whole number of milliseconds/);
  });
});
