import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { PagedFile, WriterLease } from '@blockvfs/core/format';
import { AtomicFormat } from '../src/atomic/atomic-format.js';
import { atomicBlockKey, atomicCommitKey, atomicLeaseKey } from '../src/atomic/objects.js';
import { collectGarbage, inspectDatabase, isBlockVfsError, listCommits, restoreCommit, verifyObjects, withCache, type BlockStore } from '@blockvfs/core';

/** inspectDatabase, listCommits, verifyObjects and restoreCommit on a file of the atomic layout (PagedFile, no SQLite). */

const BLOCK = 1024;

/** A file whose commit k (1-based) fills it with byte k over `sizes[k-1]` bytes; the last commit is forced out of the record (large). */
async function makeHistory(store: BlockStore, sizes: number[], inlineLimit = 0): Promise<void> {
  const format = await AtomicFormat.open(store, 'db', { blockSize: BLOCK, inlineLimit, cacheBytes: 0 });
  const file = new PagedFile(format);
  for (const [i, size] of sizes.entries()) {
    await file.write(new Uint8Array(size).fill(i + 1), 0);
    await file.truncate(size);
    await file.sync();
  }
  await file.close();
}

async function contents(store: BlockStore, asOf?: number): Promise<Uint8Array> {
  const format = await AtomicFormat.open(store, 'db', { blockSize: BLOCK, cacheBytes: 0, ...(asOf === undefined ? {} : { asOf }) });
  const file = new PagedFile(format);
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

describe('inspectDatabase and listCommits', () => {
  it('report the commits, sizes and objects by kind', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000, 5000, 2000]);
    const info = await inspectDatabase({ store, name: 'db' });
    expect(info).toMatchObject({
      layout: 'atomic',
      blockSize: BLOCK,
      size: 2000,
      commit: { seq: 3 },
      checkpoints: [],
      oldestKept: { seq: 1 },
      pageSize: undefined,
      lease: undefined,
    });
    // 3 + 5 + 2 block objects, all named by a kept commit; 3 records.
    expect(info.objects.blocks.count).toBe(10);
    expect(info.objects.records.count).toBe(3);
    expect(info.objects.garbage.count).toBe(0);
    const commits = await listCommits({ store, name: 'db' });
    expect(commits.map(({ seq, size, blocksWritten }) => [seq, size, blocksWritten])).toEqual([
      [3, 2000, 2],
      [2, 5000, 5],
      [1, 3000, 3],
    ]);
    expect(await listCommits({ store, name: 'db', limit: 1 })).toHaveLength(1);
  });

  it('count what a collection would delete as garbage, and the oldest kept commit after one', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000, 5000, 2000]);
    await store.put(atomicBlockKey('db', 0, 2, 'ffffffffffffffff'), new Uint8Array(10)); // an orphan of a lost attempt
    expect((await inspectDatabase({ store, name: 'db' })).objects.garbage).toEqual({ count: 1, bytes: 10 });
    // Everything older than an hour from a clock two hours ahead: commit 3 is the oldest kept.
    await collectGarbage({ store, name: 'db', retentionMs: 3_600_000, now: Date.now() + 7_200_000 });
    const info = await inspectDatabase({ store, name: 'db' });
    expect(info.oldestKept?.seq).toBe(3);
    expect(info.checkpoints).toEqual([3]);
    expect(info.objects.garbage.count).toBe(0);
    expect((await listCommits({ store, name: 'db' })).map((c) => [c.seq, c.blocksWritten])).toEqual([[3, undefined]]);
  });

  it('report the writer lease: its holder, its expiry, and whether it is held now', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000]);
    const lease = new WriterLease(store, 'db', { ttlMs: 30_000 });
    await lease.ensure();
    const held = await inspectDatabase({ store, name: 'db' });
    expect(held.lease).toMatchObject({ owner: lease.owner, held: true });
    expect(held.lease?.expires).toBeGreaterThan(Date.now());
    expect((await inspectDatabase({ store, name: 'db', now: Date.now() + 60_000 })).lease?.held).toBe(false);
    await lease.release();
    expect((await inspectDatabase({ store, name: 'db' })).lease).toEqual({ owner: lease.owner, expires: 0, held: false });
  });

  it('say not-found for no database, and refuse a cached store', async () => {
    const store = new MemoryStore();
    await expect(inspectDatabase({ store, name: 'none' })).rejects.toSatisfy((e: unknown) => isBlockVfsError(e, 'not-found'));
    await expect(listCommits({ store, name: 'none' })).rejects.toSatisfy((e: unknown) => isBlockVfsError(e, 'not-found'));
    await expect(inspectDatabase({ store: withCache(store, { maxBytes: 1000 }), name: 'db' })).rejects.toThrow(/withCache/);
  });
});

describe('verifyObjects', () => {
  it('passes a sound file and names every damaged, short or missing object', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000, 5000]);
    expect(await verifyObjects({ store, name: 'db' })).toMatchObject({ ok: true, problems: [], checked: { records: 2, blocks: 8, bytes: 8000 } });
    const blocks: string[] = [];
    for await (const entry of store.list('db/blocks/')) blocks.push(entry.key);
    const [flipped, short, gone] = blocks.filter((key) => key.includes('.000000000002.')) as [string, string, string];
    const bytes = (await store.get(flipped)) as Uint8Array;
    bytes[7] = (bytes[7] as number) ^ 1;
    await store.put(flipped, bytes);
    await store.put(short, new Uint8Array(10).fill(2));
    await store.delete([gone]);
    const report = await verifyObjects({ store, name: 'db' });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(
      [
        `block object "${flipped}" (named by commit 2) fails its CRC-32C check`,
        `block object "${short}" (named by commit 2) has 10 bytes, not 1024`,
        `block object "${gone}" (named by commit 2) is missing`,
      ].sort(),
    );
  });

  it('reports a damaged commit record instead of throwing', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000, 5000]);
    const key = atomicCommitKey('db', 1);
    const bytes = (await store.get(key)) as Uint8Array;
    bytes[20] = (bytes[20] as number) ^ 1;
    await store.put(key, bytes);
    const report = await verifyObjects({ store, name: 'db' });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/log\/000000000001.*checksum mismatch/);
  });
});

describe('restoreCommit', () => {
  it('makes an older state the newest commit, writing only the blocks that differ, and keeps the history', async () => {
    const store = new MemoryStore();
    // Commit 3 rewrites blocks 0-1 and shrinks the file to them: a restore of commit 2 writes all five blocks
    // again (a record names only objects of its own commit, so even blocks 2-4, still stored, are rewritten).
    await makeHistory(store, [3000, 5000]);
    const format = await AtomicFormat.open(store, 'db', { blockSize: BLOCK, inlineLimit: 0, cacheBytes: 0 });
    const file = new PagedFile(format);
    await file.write(new Uint8Array(2048).fill(9), 0);
    await file.truncate(2048);
    await file.sync();
    await file.close();
    const before = await contents(store, 2);
    const report = await restoreCommit({ store, name: 'db', asOf: 2 });
    expect(report).toEqual({ restored: 2, commit: 4, blocksWritten: 5, size: 5000 });
    expect(await contents(store)).toEqual(before);
    expect((await contents(store, 3)).length).toBe(2048); // the replaced history is still there
    expect((await verifyObjects({ store, name: 'db' })).ok).toBe(true);
    // Restoring the state it is in writes nothing.
    expect(await restoreCommit({ store, name: 'db', asOf: 4 })).toEqual({ restored: 4, commit: 0, blocksWritten: 0, size: 5000 });
    await expect(restoreCommit({ store, name: 'db', asOf: 99 })).rejects.toSatisfy((e: unknown) => isBlockVfsError(e, 'not-found'));
  });

  it('sets an SQLite file’s change counter past the newest one, so that page caches notice', async () => {
    const store = new MemoryStore();
    const header = (counter: number) => {
      const bytes = new Uint8Array(BLOCK);
      bytes.set(new TextEncoder().encode('SQLite format 3\0'));
      new DataView(bytes.buffer).setUint32(24, counter);
      new DataView(bytes.buffer).setUint32(92, counter);
      return bytes;
    };
    const format = await AtomicFormat.open(store, 'db', { blockSize: BLOCK, cacheBytes: 0 });
    const file = new PagedFile(format);
    for (const counter of [1, 2, 3]) {
      await file.write(header(counter), 0);
      await file.sync();
    }
    await file.close();
    await restoreCommit({ store, name: 'db', asOf: 1 });
    const now = new DataView((await contents(store)).buffer);
    expect([now.getUint32(24), now.getUint32(92)]).toEqual([4, 4]);
  });

  it('is refused while another writer holds the writer lease, and leaves no lease on a database whose writers use none', async () => {
    const store = new MemoryStore();
    await makeHistory(store, [3000, 5000]);
    await restoreCommit({ store, name: 'db', asOf: 1 });
    expect(await store.get(atomicLeaseKey('db'))).toBeUndefined();
    const holder = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: BLOCK, cacheBytes: 0, lease: true }));
    await holder.write(new Uint8Array(10).fill(7), 0);
    await holder.sync(); // takes the lease
    const seq = (await listCommits({ store, name: 'db' })).length;
    const error: unknown = await restoreCommit({ store, name: 'db', asOf: 1 }).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
    expect((error as Error).message).toMatch(/holds its lease/);
    expect((await listCommits({ store, name: 'db' })).length).toBe(seq);
    await holder.close(); // releases it
    expect((await restoreCommit({ store, name: 'db', asOf: 1 })).commit).toBe(seq + 1);
  });
});
