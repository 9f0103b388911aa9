import { describe, expect, test } from 'vitest';
import { AsyncQueue } from '../src/async-queue.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('AsyncQueue', () => {
  test('runs tasks one at a time in call order, sync and async alike, whatever fails', async () => {
    const queue = new AsyncQueue();
    const log: string[] = [];
    let running = 0;
    const task =
      (name: string, wait: boolean, fail = false) =>
      () => {
        running += 1;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        const end = () => {
          log.push(`end ${name}`);
          running -= 1;
          if (fail) throw new Error(name);
          return name;
        };
        return wait ? tick().then(end) : end();
      };
    const results = await Promise.allSettled([
      queue.run(task('a', true)),
      queue.run(task('b', false)),
      queue.run(task('c', true, true)),
      queue.run(task('d', false, true)),
      queue.run(task('e', false)),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c', 'start d', 'end d', 'start e', 'end e']);
    // Idle again: a sync task runs at once, within the call.
    let ran = false;
    const now = queue.run(() => {
      ran = true;
      return 1;
    });
    expect(ran).toBe(true);
    expect(await now).toBe(1);
  });

  test('a task queued from within a starting task waits until that one has settled', async () => {
    const queue = new AsyncQueue();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    const outer = queue.run(async () => {
      log.push('outer starts');
      inner = queue.run(() => void log.push('inner'));
      await tick();
      log.push('outer ends');
    });
    const later = queue.run(() => void log.push('later'));
    await Promise.all([outer, inner, later]);
    expect(log).toEqual(['outer starts', 'outer ends', 'inner', 'later']);

    // The same from a task that finishes without awaiting.
    log.length = 0;
    const syncOuter = queue.run(() => {
      inner = queue.run(() => void log.push('inner'));
      log.push('sync outer');
    });
    await Promise.all([syncOuter, inner]);
    expect(log).toEqual(['sync outer', 'inner']);
  });
});
