import { BlockVfsError, isBlockVfsError, type BlockStore } from '@blockvfs/core';
import { describe, expect, it } from 'vitest';
import { NO_FAULTS, Random, Scheduler, SimObjects, SimStore, Trace, type EtagStyle, type FaultProfile, type StoreProfile } from '../src/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string | undefined => (data === undefined ? undefined : new TextDecoder().decode(data));

function profile(faults: Partial<FaultProfile> = {}, more: Partial<StoreProfile> = {}): StoreProfile {
  return {
    faults: { ...NO_FAULTS, ...faults },
    latency: { min: 1, max: 50 },
    hangMs: { min: 10_000, max: 20_000 },
    listPageSize: 2,
    maxDeleteBatch: 1000,
    lateLanding: { probability: 0, maxMs: 1 },
    ...more,
  };
}

/** A world of one bucket and a scheduler; `store()` makes another process's store object over it. */
function world(seed = 1, etags: EtagStyle = 'content') {
  const scheduler = new Scheduler(0);
  const objects = new SimObjects(etags);
  const trace = new Trace();
  let n = 0;
  const store = (p: StoreProfile = profile()) =>
    new SimStore({ process: `p${n}`, objects, scheduler, random: new Random(seed).fork(`store ${n++}`), trace, epoch: 0, profile: p });
  const run = <T>(main: () => Promise<T>) => scheduler.run(main, { maxEvents: 100_000, maxWallMs: 10_000 });
  return { scheduler, objects, trace, store, run };
}

async function rejection(promise: Promise<unknown>): Promise<BlockVfsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BlockVfsError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function keys(store: BlockStore, prefix: string, startAfter?: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of store.list(prefix, startAfter === undefined ? {} : { startAfter })) found.push(entry.key);
  return found;
}

describe('SimStore semantics (as MemoryStore)', () => {
  it('gets what was put, whole or by range, copied in and out', async () => {
    const { store, run } = world();
    const s = store();
    await run(async () => {
      const data = bytes('hello world');
      await s.put('db/a', data);
      data[0] = 0; // the caller's buffer is its own once put returns
      expect(text(await s.get('db/a'))).toBe('hello world');
      expect(text(await s.get('db/a', { offset: 6 }))).toBe('world');
      expect(text(await s.get('db/a', { offset: 0, length: 5 }))).toBe('hello');
      expect(text(await s.get('db/a', { offset: 20 }))).toBe('');
      expect(await s.get('db/missing')).toBeUndefined();
      const copy = (await s.get('db/a')) as Uint8Array;
      copy[0] = 0;
      expect(text(await s.get('db/a'))).toBe('hello world');
    });
  });

  it('honours ifNoneMatch and ifMatch atomically, failing with precondition-failed', async () => {
    const { store, run } = world();
    const s = store();
    await run(async () => {
      const first = await s.put('db/k', bytes('1'), { ifNoneMatch: '*' });
      expect((await rejection(s.put('db/k', bytes('2'), { ifNoneMatch: '*' }))).kind).toBe('precondition-failed');
      expect((await rejection(s.put('db/k', bytes('2'), { ifMatch: 'nope' }))).kind).toBe('precondition-failed');
      expect((await rejection(s.put('db/other', bytes('2'), { ifMatch: first.etag }))).kind).toBe('precondition-failed');
      const second = await s.put('db/k', bytes('2'), { ifMatch: first.etag });
      expect(second.etag).not.toBe(first.etag);
      expect((await rejection(s.put('db/k', bytes('3'), { ifMatch: first.etag }))).kind).toBe('precondition-failed');
      expect(text(await s.get('db/k'))).toBe('2');
      // Two processes racing to create the same key: exactly one wins.
      const other = store();
      const outcomes = await Promise.allSettled([s.put('db/race', bytes('a'), { ifNoneMatch: '*' }), other.put('db/race', bytes('b'), { ifNoneMatch: '*' })]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    });
  });

  it('gives content etags (same bytes, same etag, as S3) or version etags (never repeated, as GCS and Azure)', async () => {
    for (const [style, same] of [
      ['content', true],
      ['version', false],
    ] as const) {
      const { store, run } = world(1, style);
      const s = store();
      await run(async () => {
        const a = await s.put('db/x', bytes('same'));
        await s.put('db/x', bytes('other'));
        const b = await s.put('db/x', bytes('same'));
        expect(a.etag === b.etag).toBe(same);
        const [listed] = await (async () => {
          const out = [];
          for await (const entry of s.list('db/x')) out.push(entry);
          return out;
        })();
        expect(listed?.etag).toBe(b.etag);
      });
    }
  });

  it('deletes many keys (missing ones are fine) and lists in lexicographic order after startAfter', async () => {
    const { store, run } = world();
    const s = store();
    await run(async () => {
      for (const key of ['db/b', 'db/a', 'db/c/1', 'db/c/0', 'dc/z', 'db/d']) await s.put(key, bytes(key));
      expect(await keys(s, 'db/')).toEqual(['db/a', 'db/b', 'db/c/0', 'db/c/1', 'db/d']);
      expect(await keys(s, 'db/c/')).toEqual(['db/c/0', 'db/c/1']);
      expect(await keys(s, 'db/', 'db/b')).toEqual(['db/c/0', 'db/c/1', 'db/d']);
      await s.delete(['db/a', 'db/c/0', 'db/nothing']);
      expect(await keys(s, 'db/')).toEqual(['db/b', 'db/c/1', 'db/d']);
    });
  });

  it('answers a listing page by page, so that writes landing between pages show after the cursor only', async () => {
    const { store, run, scheduler } = world();
    const s = store(profile({}, { listPageSize: 1, latency: { min: 10, max: 10 } }));
    const writer = store(profile({}, { latency: { min: 1, max: 1 } }));
    await run(async () => {
      for (const key of ['db/2', 'db/4', 'db/6']) await s.put(key, bytes(key));
      const seen: string[] = [];
      let writes = false;
      for await (const entry of s.list('db/')) {
        seen.push(entry.key);
        if (!writes) {
          writes = true;
          // Land before the next page: one key before the cursor (missed), one after (seen), one deleted ahead (missed).
          await Promise.all([writer.put('db/1', bytes('x')), writer.put('db/5', bytes('x')), writer.delete(['db/4'])]);
        }
      }
      expect(seen).toEqual(['db/2', 'db/5', 'db/6']);
      expect(scheduler.now).toBeGreaterThan(0);
    });
  });

  it('rejects bad keys with invalid, at once', async () => {
    const { store, run } = world();
    const s = store();
    await run(async () => {
      expect((await rejection(s.get(''))).kind).toBe('invalid');
      expect((await rejection(s.put('', bytes('x')))).kind).toBe('invalid');
      expect(s.requests).toBe(0);
    });
  });
});

describe('SimStore fates', () => {
  it('fail-before: a transient error and no effect', async () => {
    const { store, objects, run } = world();
    const s = store(profile({ failBefore: 1, ops: ['put'] }));
    await run(async () => {
      expect((await rejection(s.put('db/a', bytes('x')))).kind).toBe('transient');
      expect(objects.has('db/a')).toBe(false);
    });
  });

  it('fail-after: the effect happens, the answer is a transient error (a lost answer)', async () => {
    const { store, objects, run } = world();
    const s = store(profile({ failAfter: 1, ops: ['put', 'delete'] }));
    await run(async () => {
      expect((await rejection(s.put('db/a', bytes('x')))).kind).toBe('transient');
      expect(text(objects.peek('db/a'))).toBe('x');
      expect((await rejection(s.delete(['db/a']))).kind).toBe('transient');
      expect(objects.has('db/a')).toBe(false);
    });
  });

  it('hang: the answer comes only after a long virtual time', async () => {
    const { store, objects, run, scheduler } = world();
    const s = store(profile({ hang: 1, ops: ['put'] }));
    await run(async () => {
      for (let i = 0; i < 10; i++) {
        const started = scheduler.now;
        await s.put(`db/${i}`, bytes('x')).catch((error: unknown) => expect(isBlockVfsError(error, 'transient')).toBe(true));
        expect(scheduler.now - started).toBeGreaterThanOrEqual(10_000);
      }
      expect(objects.size).toBeLessThanOrEqual(10);
    });
  });

  it('concurrent requests complete in an order the seed picks, not the order sent', async () => {
    const orders = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const { store, run } = world(seed);
      const s = store();
      const done: number[] = [];
      await run(() => Promise.all([0, 1, 2, 3].map((i) => s.put(`db/${i}`, bytes('x')).then(() => done.push(i)))));
      orders.add(done.join());
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it('the same seed gives the same fates and times', async () => {
    const once = async () => {
      const { store, run, trace } = world(7);
      const s = store(profile({ failBefore: 0.2, failAfter: 0.2, hang: 0.05, ops: ['get', 'put', 'delete', 'list'] }));
      await run(async () => {
        for (let i = 0; i < 30; i++) {
          await s.put(`db/${i % 7}`, bytes(String(i))).catch(() => undefined);
          await s.get(`db/${i % 5}`).catch(() => undefined);
          if (i % 10 === 0) await keys(s, 'db/').catch(() => undefined);
        }
      });
      return trace.digest();
    };
    expect(await once()).toBe(await once());
  });

  it('a killed process: pending requests reject at once, later ones too, and unsettled effects land later or never', async () => {
    const { store, objects, run, scheduler } = world(3);
    const s = store(profile({}, { latency: { min: 100, max: 100 }, lateLanding: { probability: 1, maxMs: 60_000 } }));
    await run(async () => {
      const pending = s.put('db/late', bytes('x'));
      scheduler.after(10, () => s.kill());
      expect((await rejection(pending)).kind).toBe('transient');
      expect(scheduler.now).toBe(10); // at the kill, not when the request would have answered
      expect(objects.has('db/late')).toBe(false);
      expect((await rejection(s.get('db/late'))).message).toMatch(/dead/);
      await scheduler.sleep(61_000);
      expect(objects.has('db/late')).toBe(true); // it landed after the process died
    });
  });
});
