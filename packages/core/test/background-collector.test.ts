import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { MIN_GRACE_MS, type BlockStore, type GarbageReport } from '@blockvfs/core';
import { ManualClock } from '@blockvfs/core/testing';
import { AtomicFormat, PagedFile, atomicCommitKey, type BackgroundCollectionOptions } from '@blockvfs/core/format';
import { listAll, pattern } from './helpers.js';

/** Automatic retention: the writer collects its own garbage, in the background, after commits. */

const MINUTE = 60_000;

async function openWriter(store: BlockStore, clock: ManualClock, collect?: BackgroundCollectionOptions) {
  const format = await AtomicFormat.open(store, 'db', { blockSize: 1024, clock, checkpointEvery: 50, ...(collect ? { collect } : {}) });
  return { format, file: new PagedFile(format) };
}

/** One small commit: a block of its own plus block 0, as a one-row insert touches a leaf and the header. */
async function commit(file: PagedFile, n: number): Promise<void> {
  await file.write(pattern(100, n), 0);
  await file.write(pattern(1024, n), 1024 * (1 + (n % 8)));
  await file.sync();
}

const records = async (store: BlockStore) => (await listAll(store, 'db/log/')).length;

describe('background collection (openDatabase retentionMs)', () => {
  it('keeps a busy writer’s history bounded by the retention', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const reports: GarbageReport[] = [];
    const { format, file } = await openWriter(store, clock, {
      retentionMs: MINUTE,
      graceMs: MIN_GRACE_MS,
      everyCommits: 100,
      onCollected: (r) => reports.push(r),
    });
    for (let n = 1; n <= 1000; n++) {
      await commit(file, n);
      clock.advance(1000); // a commit a second
    }
    await format.close(); // waits for the collection in flight
    expect(reports.length).toBeGreaterThanOrEqual(9);
    // The horizon is max(retention, grace) = 2 minutes: about 120 commits, plus up to 100 since the last collection.
    expect(await records(store)).toBeLessThanOrEqual((2 * MIN_GRACE_MS) / 1000 + 100);
    const latest = reports.at(-1)!;
    expect(latest.oldestKept).toBeGreaterThan(latest.latest - (2 * MIN_GRACE_MS) / 1000 - 1);
  });

  it('collects when time has passed, with a commit since; a reader on a commit inside the window keeps reading it', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const { format, file } = await openWriter(store, clock, { retentionMs: MINUTE, everyCommits: 10_000 });
    for (let n = 1; n <= 30; n++) await commit(file, n);
    expect(await records(store)).toBe(30); // not due: too few commits, too little time
    clock.advance(60 * MINUTE);
    await commit(file, 31);
    await format.close();
    expect((await listAll(store, 'db/log/')).map((e) => e.key)).toEqual([atomicCommitKey('db', 31)]); // all else is past the horizon
    // Commits within the window stay openable as of their time, and read back whole.
    const reader = await AtomicFormat.open(store, 'db', { blockSize: 1024, asOf: 31 });
    const copy = new Uint8Array(100);
    await new PagedFile(reader).read(copy, 0);
    expect(copy).toEqual(pattern(100, 31));
  });

  it('runs one collection at a time per database in this process, and close() waits for it', async () => {
    let releaseList: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseList = resolve));
    const inner = new MemoryStore();
    let listings = 0;
    let armed = false;
    // A store whose listings, once armed, hang until released: a collection stays in flight.
    const slow: BlockStore = {
      name: inner.name,
      capabilities: inner.capabilities,
      get: (key, range) => inner.get(key, range),
      put: (key, data, condition) => inner.put(key, data, condition),
      delete: (keys) => inner.delete(keys),
      async *list(prefix, options) {
        if (armed) {
          listings += 1;
          await gate;
        }
        yield* inner.list(prefix, options);
      },
    };
    const clock = new ManualClock();
    const a = await openWriter(slow, clock, { retentionMs: 0, everyCommits: 5 });
    const b = await openWriter(slow, clock, { retentionMs: 0, everyCommits: 5 });
    armed = true;
    for (let n = 1; n <= 5; n++) await commit(a.file, n);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = listings;
    expect(started).toBeGreaterThan(0); // a's collection is listing (and stuck)
    await b.format.refresh();
    for (let n = 6; n <= 10; n++) await commit(b.file, n); // b's are due too, but a's is in flight
    expect(listings).toBe(started);
    let closed = false;
    const closing = a.format.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false); // close waits for the collection
    releaseList();
    await closing;
    await b.format.close();
  });

  it('a failing collection fails no commit and is told to onError', async () => {
    const inner = new MemoryStore();
    const broken: BlockStore = {
      name: inner.name,
      capabilities: inner.capabilities,
      get: (key, range) => inner.get(key, range),
      put: (key, data, condition) => inner.put(key, data, condition),
      delete: () => Promise.reject(new Error('delete refused')),
      list: (prefix, options) => inner.list(prefix, options),
    };
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const { format, file } = await openWriter(broken, clock, { retentionMs: 0, everyCommits: 3, onError: (e) => errors.push(e) });
    for (let n = 1; n <= 9; n++) {
      await commit(file, n);
      clock.advance(10 * MINUTE);
    }
    await format.close();
    expect(errors.length).toBeGreaterThan(0);
    expect(await records(inner)).toBe(9);
  });

  it('is off unless asked for, and refuses bad options', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const { format, file } = await openWriter(store, clock);
    for (let n = 1; n <= 5; n++) await commit(file, n);
    clock.advance(100 * MINUTE);
    await commit(file, 6);
    await format.close();
    expect(await records(store)).toBe(6);
    await expect(AtomicFormat.open(store, 'x', { blockSize: 1024, collect: { retentionMs: -1 } })).rejects.toThrow(
      /collect.retentionMs must be a non-negative integer/,
    );
    await expect(AtomicFormat.open(store, 'x', { blockSize: 1024, collect: { retentionMs: 0, everyCommits: 0 } })).rejects.toThrow(
      /everyCommits must be a positive integer/,
    );
  });
});

describe('background collection with a long retention', () => {
  it('still collects at least hourly (a day’s retention, a process that lives for hours)', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const reports: GarbageReport[] = [];
    const { format, file } = await openWriter(store, clock, { retentionMs: 24 * 60 * MINUTE, onCollected: (r) => reports.push(r) });
    await commit(file, 1);
    clock.advance(59 * MINUTE);
    await commit(file, 2);
    await format.close();
    expect(reports).toHaveLength(0); // not due yet
    const again = await openWriter(store, clock, { retentionMs: 24 * 60 * MINUTE, onCollected: (r) => reports.push(r) });
    clock.advance(61 * MINUTE);
    await commit(again.file, 3);
    await again.format.close();
    expect(reports).toHaveLength(1);
    expect(reports[0]?.deleted.records).toBe(0); // nothing is a day old: history kept, but the collection ran
  });
});
