import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, type AtomicFormatOptions } from '../src/atomic/atomic-format.js';
import { atomicCommitKey, atomicHeadKey, atomicLeaseKey } from '../src/atomic/objects.js';
import { readHead } from '../src/atomic/history.js';
import { PagedFile } from '@blockvfs/core/format';
import { collectGarbage, isBlockVfsError, withMetrics, type BlockStore } from '@blockvfs/core';
import { expectSameBytes, listAll, pattern, withCapabilities } from './helpers.js';

/** Staging (transactions larger than memory), the writer lease, time travel and garbage collection. */

async function openFile(store: BlockStore, options: Partial<AtomicFormatOptions> = {}, maxDirtyBytes?: number) {
  const format = await AtomicFormat.open(store, 'db', { blockSize: 1024, ...options });
  return { format, file: new PagedFile(format, maxDirtyBytes === undefined ? {} : { maxDirtyBytes }) };
}

async function contents(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

async function stateOf(store: BlockStore, options: Partial<AtomicFormatOptions> = {}): Promise<Uint8Array> {
  return contents((await openFile(store, { cacheBytes: 0, ...options })).file);
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('a transaction larger than memory', () => {
  it('uploads blocks ahead of the commit, invisible until its record exists, and reads them back', async () => {
    const inner = new MemoryStore();
    const store = withMetrics(inner);
    const { file } = await openFile(store, {}, 8 * 1024); // at most 8 blocks in memory
    const data = pattern(100 * 1024, 1);
    for (let offset = 0; offset < data.length; offset += 3000) await file.write(data.subarray(offset, offset + 3000), offset);
    expect(store.metrics.put).toBeGreaterThan(80); // most blocks went up already
    expect((await listAll(inner, 'db/log/')).length).toBe(0);
    expect((await stateOf(inner)).length).toBe(0); // nothing visible yet
    expectSameBytes(await contents(file), data, 'read back before the commit');
    await file.write(pattern(10, 2), 5); // changes a block that went up already
    data.set(pattern(10, 2), 5);
    await file.sync();
    expect((await listAll(inner, 'db/log/')).map((e) => e.key)).toEqual([atomicCommitKey('db', 1)]);
    expectSameBytes(await stateOf(inner), data, 'after the commit');
  });

  it('discard() drops staged blocks: the store shows the state before, and the file carries on from it', async () => {
    const store = new MemoryStore();
    const { file } = await openFile(store, {}, 4 * 1024);
    await file.write(pattern(2000, 1), 0);
    await file.sync();
    await file.write(pattern(50 * 1024, 2), 0);
    file.discard();
    expect(file.size).toBe(2000);
    expectSameBytes(await contents(file), pattern(2000, 1), 'after discard');
    await file.write(pattern(10, 3), 0);
    await file.sync();
    const expected = pattern(2000, 1);
    expected.set(pattern(10, 3), 0);
    expectSameBytes(await stateOf(store), expected, 'the next commit');
  });

  it('a commit with staged blocks that loses to another writer: its blocks are deleted, and the file refuses to sync until discard()', async () => {
    const store = new MemoryStore();
    const { file } = await openFile(store, {}, 4 * 1024);
    await file.write(pattern(20 * 1024, 1), 0); // most of it goes up ahead of the commit
    expect((await listAll(store, 'db/blocks/')).length).toBeGreaterThan(10);
    const rival = await openFile(store);
    await rival.file.write(pattern(10, 9), 0);
    await rival.file.sync(); // takes seq 1, inline
    const lost = await rejection(file.sync());
    expect(isBlockVfsError(lost, 'precondition-failed')).toBe(true);
    expect((await listAll(store, 'db/blocks/')).length).toBe(0); // certainly garbage: removed at once
    expect(await rejection(file.sync())).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/were lost when their commit failed/) });
    file.discard();
    expect(await file.refresh()).toBe(true);
    expectSameBytes(await contents(file), pattern(10, 9), 'the rival’s commit');
  });
});

describe('writer lease', () => {
  it('one holder at a time; others get precondition-failed at once; it renews, and is released at close', async () => {
    const store = withMetrics(new MemoryStore());
    const a = await openFile(store, { lease: { ttlMs: 10_000 } });
    const b = await openFile(store, { lease: { ttlMs: 10_000 } });
    await a.format.beginWrite();
    expect(a.format.lease?.held).toBe(true);
    const busy = await rejection(b.format.beginWrite());
    expect(isBlockVfsError(busy, 'precondition-failed')).toBe(true);
    expect((busy as Error).message).toMatch(/"db" is busy: another writer holds its lease until/);
    // A held lease with more than half its ttl left costs nothing; the commit is one PUT.
    store.resetMetrics();
    await a.format.beginWrite();
    await a.file.write(pattern(100, 1), 0);
    await a.file.sync();
    expect(store.metrics).toMatchObject({ get: 0, put: 1, list: 0 });
    await a.format.close();
    await b.format.beginWrite(); // released: b takes it
    expect(b.format.lease?.held).toBe(true);
  });

  it('an expired lease is taken over, and its old holder cannot commit on it', async () => {
    const store = new MemoryStore();
    const a = await openFile(store, { lease: { ttlMs: 1000 } });
    await a.format.beginWrite();
    await a.file.write(pattern(100, 1), 0);
    await a.file.sync();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const b = await openFile(store, { lease: { ttlMs: 1000 } });
    await b.format.beginWrite(); // a's expired: taken over
    // a tries to go on: renewing fails (b holds it), so its commit is refused before any record.
    await a.file.write(pattern(100, 2), 0);
    const refused = await rejection(a.file.sync());
    expect(isBlockVfsError(refused, 'precondition-failed')).toBe(true);
    expect((await listAll(store, 'db/log/')).length).toBe(1);
    expect(await store.get(atomicLeaseKey('db'))).toBeDefined();
  });

  it('is refused on a store without conditional puts', async () => {
    const store = withCapabilities(new MemoryStore(), { conditionalPut: false });
    await expect(AtomicFormat.open(store, 'db', { blockSize: 1024, singleWriter: true, lease: true })).rejects.toThrow(
      /lease needs a store with conditional puts/,
    );
  });
});

/** A file with `count` commits, each writing block `i % 4` with pattern i, ~5 ms apart. */
async function history(store: BlockStore, count: number, options: Partial<AtomicFormatOptions> = {}) {
  const { format, file } = await openFile(store, { checkpointEvery: 0, ...options });
  const states: Uint8Array[] = [new Uint8Array(0)];
  const times: number[] = [0];
  for (let i = 1; i <= count; i++) {
    await file.write(pattern(1024, i), (i % 4) * 1024);
    await file.sync();
    states.push(await contents(file));
    times.push(format.commitTime);
    if (i % 5 === 0) await format.checkpoint();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { format, file, states, times };
}

describe('time travel', () => {
  it('opens the state after any commit, by number or by time, read-only', async () => {
    const store = new MemoryStore();
    const { states, times } = await history(store, 12);
    for (const seq of [1, 4, 5, 6, 10, 12]) {
      expectSameBytes(await stateOf(store, { asOf: seq }), states[seq] as Uint8Array, `as of commit ${seq}`);
      // Just before the next commit's time, and exactly at this one's.
      expectSameBytes(await stateOf(store, { asOf: new Date(times[seq] as number) }), states[seq] as Uint8Array, `as of the time of ${seq}`);
    }
    expectSameBytes(await stateOf(store, { asOf: new Date(Date.now() + 60_000) }), states[12] as Uint8Array, 'as of the future: the latest');
    await expect(stateOf(store, { asOf: 13 })).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringMatching(/commit 13 of "db" does not exist \(the newest is 12\)/),
    });
    await expect(stateOf(store, { asOf: new Date((times[1] as number) - 1000) })).rejects.toMatchObject({ kind: 'not-found' });
    const pinned = await openFile(store, { asOf: 3 });
    expect(pinned.format.pinned).toBe(3);
    expect(await pinned.file.refresh()).toBe(false);
    await pinned.file.write(pattern(10, 1), 0);
    await expect(pinned.file.sync()).rejects.toThrow(/open as of commit 3, read-only/);
  });
});

describe('garbage collection', () => {
  const hour = 60 * 60 * 1000;

  it('keeps everything younger than the horizon; after it, only what the kept commits reference', async () => {
    const inner = new MemoryStore();
    const { states, file } = await history(inner, 12, { inlineLimit: 0 }); // every block an object
    const before = await listAll(inner, 'db/');
    const young = await collectGarbage({ store: inner, name: 'db' });
    expect(young.deleted).toEqual({ blocks: 0, records: 0, checkpoints: 0, bytes: 0 });
    expect(await listAll(inner, 'db/')).toEqual(before);

    const report = await collectGarbage({ store: inner, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
    expect(report.latest).toBe(12);
    expect(report.oldestKept).toBe(12);
    expect(report.deleted.records).toBe(12);
    expect(report.deleted.checkpoints).toBe(2); // 5 and 10; 12 was written by the collection and stays
    expect(report.deleted.blocks).toBe(13 - 4); // 13 block versions (commit 1 also wrote block 0, as zeros: growth), 4 live
    expect(report.kept).toEqual({ blocks: 4, pending: 0 });
    expect((await listAll(inner, 'db/blocks/')).length).toBe(4);
    expect((await listAll(inner, 'db/log/')).length).toBe(0);
    expect((await readHead(inner, 'db'))?.oldest).toBe(12);
    expectSameBytes(await stateOf(inner), states[12] as Uint8Array, 'the latest state after collection');
    await expect(stateOf(inner, { asOf: 11 })).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringMatching(/no longer kept: the oldest that can be opened is 12/),
    });
    // The writer carries on on top of the collected history, and a fresh reader sees it.
    await file.write(pattern(1024, 99), 0);
    await file.sync();
    const expected = (states[12] as Uint8Array).slice();
    expected.set(pattern(1024, 99), 0);
    expectSameBytes(await stateOf(inner), expected, 'a commit after collection');
  });

  it('a head that appears between its listing and its read is looked at again, never put without a condition', async () => {
    const inner = new MemoryStore();
    await history(inner, 12, { inlineLimit: 0 });
    const headKey = atomicHeadKey('db');
    let hideHead = true; // the first listing of the head misses it, as one made just before the head was created
    const puts: Array<{ key: string; condition: unknown }> = [];
    const store: BlockStore = {
      name: inner.name,
      capabilities: inner.capabilities,
      get: (key, range) => inner.get(key, range),
      put: (key, data, condition) => {
        puts.push({ key, condition });
        return inner.put(key, data, condition);
      },
      delete: (keys) => inner.delete(keys),
      list: (prefix, options) => {
        if (prefix === headKey && hideHead) {
          hideHead = false;
          return (async function* () {})();
        }
        return inner.list(prefix, options);
      },
    };
    const report = await collectGarbage({ store, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
    expect(report.oldestKept).toBe(12);
    expect(hideHead).toBe(false); // the race happened
    const headPuts = puts.filter((put) => put.key === headKey);
    expect(headPuts.length).toBeGreaterThan(0);
    const conditional = (condition: unknown): boolean =>
      typeof condition === 'object' &&
      condition !== null &&
      (('ifNoneMatch' in condition && condition.ifNoneMatch === '*') || ('ifMatch' in condition && typeof condition.ifMatch === 'string'));
    expect(headPuts.filter((put) => !conditional(put.condition))).toEqual([]);
    expect((await readHead(inner, 'db'))?.oldest).toBe(12);
  });

  it('retention keeps the commits in its window openable as of their time', async () => {
    const inner = new MemoryStore();
    const { states, times } = await history(inner, 10, { inlineLimit: 0 });
    // As if run 2 h after commit 6 was made, with 2 h of retentionMs: commits from 6 on stay.
    const now = (times[6] as number) + 2 * hour + 2;
    const report = await collectGarbage({ store: inner, name: 'db', retentionMs: 2 * hour, now });
    expect(report.oldestKept).toBe(6);
    for (const seq of [6, 7, 10]) expectSameBytes(await stateOf(inner, { asOf: seq }), states[seq] as Uint8Array, `as of ${seq}`);
    await expect(stateOf(inner, { asOf: 5 })).rejects.toMatchObject({ kind: 'not-found' });
    expectSameBytes(await stateOf(inner, { asOf: new Date(times[8] as number) }), states[8] as Uint8Array, 'by time, inside the window');
  });

  it('never deletes blocks of a commit that may be in progress, and removes orphans of failed ones', async () => {
    const inner = new MemoryStore();
    await history(inner, 3, { inlineLimit: 0 });
    // A writer that lost seq 3 (another tag) left block objects; one preparing seq 4 has some up.
    await inner.put('db/blocks/0000000000.000000000003.00000000000000aa', pattern(1024, 1));
    await inner.put('db/blocks/0000000000.000000000004.00000000000000bb', pattern(1024, 2));
    await inner.put('db/blocks/not-a-block', pattern(3, 3)); // not ours: left alone
    const report = await collectGarbage({ store: inner, name: 'db', retentionMs: hour, now: Date.now() + hour * 2 });
    expect(report.kept.pending).toBe(1);
    expect(await inner.get('db/blocks/0000000000.000000000003.00000000000000aa')).toBeUndefined();
    expect(await inner.get('db/blocks/0000000000.000000000004.00000000000000bb')).toBeDefined();
    expect(await inner.get('db/blocks/not-a-block')).toBeDefined();
  });

  it('reads no record of the kept window: a collection costs the same after 200 commits within the retention as after none', async () => {
    const inner = new MemoryStore();
    const { format, file } = await openFile(inner, { checkpointEvery: 0, inlineLimit: 0 });
    for (let i = 1; i <= 200; i++) {
      await file.write(pattern(1024, i), (i % 4) * 1024);
      await file.sync();
    }
    await format.checkpoint();
    // An attempt that lost seq 150 left a block object: past the oldest kept commit, it stays for now.
    const orphan = 'db/blocks/0000000000.000000000150.00000000000000aa';
    await inner.put(orphan, pattern(1024, 9));
    const store = withMetrics(inner);
    const report = await collectGarbage({ store, name: 'db', retentionMs: hour });
    expect(store.metrics.get).toBeLessThan(10); // head, checkpoint, the look past it: no record of the 200
    expect(report).toMatchObject({ oldestKept: 0, deleted: { blocks: 0, records: 0 }, kept: { blocks: 202 } }); // 201 written by the commits (the first also wrote block 0), and the orphan
    expect(await inner.get(orphan)).toBeDefined();
    // Two hours on, commit 200 is the oldest kept: the blocks it replaced and the orphan go.
    const later = await collectGarbage({ store: inner, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
    expect(later).toMatchObject({ oldestKept: 200, deleted: { blocks: 201 - 4 + 1, records: 200 }, kept: { blocks: 4 } });
    expect(await inner.get(orphan)).toBeUndefined();
    expectSameBytes(await stateOf(inner), await contents(file), 'the newest state, after both');
  });

  it('dryRun reports without deleting or writing; bad options are refused', async () => {
    const inner = new MemoryStore();
    await history(inner, 4, { inlineLimit: 0 });
    const before = await listAll(inner, '');
    const report = await collectGarbage({ store: inner, name: 'db', retentionMs: hour, now: Date.now() + hour * 2, dryRun: true });
    expect(report.deleted.records).toBe(4);
    expect(await listAll(inner, '')).toEqual(before);
    await expect(collectGarbage({ store: inner, name: 'db', graceMs: 1000 })).rejects.toThrow(/graceMs must be an integer of at least 120000 ms/);
    await expect(collectGarbage({ store: inner, name: 'nothing' })).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('a reader pinned to an old commit keeps reading it inside the grace period, beside a writer', async () => {
    const inner = new MemoryStore();
    const { file, states } = await history(inner, 6, { inlineLimit: 0 });
    const reader = await openFile(inner, { cacheBytes: 0 }); // no cache: every read goes to the store
    for (let i = 7; i <= 20; i++) {
      await file.write(pattern(1024, i), (i % 4) * 1024);
      await file.sync();
      await collectGarbage({ store: inner, name: 'db' }); // now: everything is inside the grace period
      expectSameBytes(await contents(reader.file), states[6] as Uint8Array, `reader at 6 while the writer is at ${i}`);
    }
    expect(await reader.file.refresh()).toBe(true);
    expectSameBytes(await contents(reader.file), await contents(file), 'after its refresh');
    const head = await inner.get(atomicHeadKey('db'));
    expect(head).toBeDefined();
  });
});
