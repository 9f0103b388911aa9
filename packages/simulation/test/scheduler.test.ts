import { describe, expect, it } from 'vitest';
import { Random, Scheduler, SimClock, StuckError } from '../src/index.js';

describe('Scheduler', () => {
  it('runs events in virtual time order, ties in the order scheduled, and moves the clock to each', async () => {
    const scheduler = new Scheduler(1000);
    const seen: string[] = [];
    await scheduler.run(
      async () => {
        scheduler.after(30, () => seen.push(`c@${scheduler.now}`));
        scheduler.after(10, () => seen.push(`a@${scheduler.now}`));
        scheduler.after(10, () => seen.push(`b@${scheduler.now}`));
        await scheduler.sleep(50);
        seen.push(`main@${scheduler.now}`);
      },
      { maxEvents: 100, maxWallMs: 10_000 },
    );
    expect(seen).toEqual(['a@1010', 'b@1010', 'c@1030', 'main@1050']);
  });

  it('lets every promise chain settle before the next event (an event sees the effects of the continuations before it)', async () => {
    const scheduler = new Scheduler(0);
    const seen: string[] = [];
    await scheduler.run(
      async () => {
        const worker = async (name: string, delays: number[]): Promise<void> => {
          for (const delay of delays) {
            await scheduler.sleep(delay);
            // A long chain of microtasks between two sleeps must run before the clock moves on.
            for (let i = 0; i < 50; i++) await Promise.resolve();
            seen.push(`${name}@${scheduler.now}`);
          }
        };
        await Promise.all([worker('x', [5, 5, 5]), worker('y', [7, 7])]);
      },
      { maxEvents: 100, maxWallMs: 10_000 },
    );
    expect(seen).toEqual(['x@5', 'y@7', 'x@10', 'x@15', 'y@14'].sort((a, b) => Number(a.split('@')[1]) - Number(b.split('@')[1])));
  });

  it('takes no real time: an hour of virtual sleeps finishes at once', async () => {
    const scheduler = new Scheduler(0);
    const started = performance.now();
    await scheduler.run(
      async () => {
        for (let i = 0; i < 60; i++) await scheduler.sleep(60_000);
      },
      { maxEvents: 1000, maxWallMs: 10_000 },
    );
    expect(scheduler.now).toBe(3_600_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('reports a run that waits for something that will never happen', async () => {
    const scheduler = new Scheduler(0);
    await expect(scheduler.run(() => new Promise<void>(() => undefined), { maxEvents: 100, maxWallMs: 10_000 })).rejects.toBeInstanceOf(StuckError);
  });

  it('reports a run that never converges (a livelock) once past its event budget', async () => {
    const scheduler = new Scheduler(0);
    const spin = async (): Promise<void> => {
      for (;;) await scheduler.sleep(1);
    };
    await expect(scheduler.run(spin, { maxEvents: 500, maxWallMs: 10_000 })).rejects.toThrow(/more than 500 events/);
  });

  it('cancelled events do not run', async () => {
    const scheduler = new Scheduler(0);
    let ran = false;
    await scheduler.run(
      async () => {
        scheduler.after(5, () => (ran = true)).cancel();
        await scheduler.sleep(10);
      },
      { maxEvents: 100, maxWallMs: 10_000 },
    );
    expect(ran).toBe(false);
  });

  it('gives each process clock its skew', async () => {
    const scheduler = new Scheduler(10_000);
    const ahead = new SimClock(scheduler, 2500);
    const behind = new SimClock(scheduler, -700);
    expect([ahead.now(), behind.now()]).toEqual([12_500, 9_300]);
    await scheduler.run(() => ahead.sleep(100.2), { maxEvents: 10, maxWallMs: 10_000 });
    expect(scheduler.now).toBe(10_101); // sleeps round up to whole virtual ms: commit times stay integers
  });
});

describe('Random', () => {
  it('is a pure function of its seed, and forks by label independently of draws made', () => {
    const a = new Random(42);
    const b = new Random(42);
    expect([a.float(), a.int(1, 6), a.pick(['x', 'y', 'z'])]).toEqual([b.float(), b.int(1, 6), b.pick(['x', 'y', 'z'])]);
    const fresh = new Random(42).fork('store p1.0');
    expect(a.fork('store p1.0').float()).toBe(fresh.float());
    expect(new Random(42).fork('a').float()).not.toBe(new Random(42).fork('b').float());
    expect(new Random(1).fork('a').float()).not.toBe(new Random(2).fork('a').float());
  });
});
