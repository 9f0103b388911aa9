import { withMetrics } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { expect, test } from 'vitest';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

/**
 * Store requests per single-row transaction, per layout and journal mode (page 4096 =
 * block 4096, a warm connection). Exact counts: a change here is a change in cost.
 */
const EXPECTED = {
  // PUT: 3 journal blocks, the journal's header block again (rewritten after the records
  // were synced), 2 database pages. DELETE: the journal's 3 blocks, one request. No GET:
  // the change counter (block 0) and the journal header are read from the blocks the
  // latest sync committed, which PagedFile keeps. No LIST.
  DELETE: { get: 0, put: 6, delete: 1, list: 0 },
  // Truncating the journal to 0 deletes its blocks: the same requests.
  TRUNCATE: { get: 0, put: 6, delete: 1, list: 0 },
  // The kept journal is reopened at each transaction: its header check and a read-before-write.
  PERSIST: { get: 2, put: 7, delete: 0, list: 0 },
  // No journal on the store: not crash-safe.
  MEMORY: { get: 0, put: 2, delete: 0, list: 0 },
  OFF: { get: 0, put: 2, delete: 0, list: 0 },
};

test.each(Object.entries(EXPECTED))('direct layout: one-row transaction in %s journal mode', async (mode, expected) => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db', pageSize: 4096, blockSize: 4096, layout: 'direct' });
  await db.exec(`PRAGMA journal_mode = ${mode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`);
  await db.run('INSERT INTO t (v) VALUES (?)', ['warm-up']);
  store.resetMetrics();
  await db.run('INSERT INTO t (v) VALUES (?)', ['one row']);
  const { get, put, delete: del, list } = store.metrics;
  expect({ get, put, delete: del, list }).toEqual(expected);
  // A read-only statement: at most the change-counter check at the start of its transaction.
  store.resetMetrics();
  expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 2 });
  expect(store.metrics.list).toBe(0);
  expect(store.metrics.put + store.metrics.delete).toBe(0);
  await db.close();
});

test('direct layout: opening an existing database lists it once; closing makes no request', async () => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db', layout: 'direct' });
  await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  store.resetMetrics();
  await db.close();
  expect(store.metrics).toMatchObject({ get: 0, put: 0, delete: 0, list: 0 });
  const again = await openDatabase({ store, name: 'count.db', layout: 'direct' });
  // One LIST of the main file; the journal is probed with one ranged GET (never listed); the header read.
  expect(store.metrics.list).toBe(1);
  expect(await again.get('SELECT x FROM t')).toEqual({ x: 1 });
  await again.close();
});

/**
 * The atomic layout, every journal mode alike (the journal stays in memory): a warm
 * connection's single-row commit is one GET (are there commits by other writers?) and
 * one PUT (the commit record, with the changed pages inline); a read transaction is the
 * GET alone; with a writer lease held, or inside the freshness interval, not even that.
 */
test.each(['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'OFF'])('atomic layout: one-row transaction in %s journal mode', async (mode) => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db', pageSize: 4096, blockSize: 4096 });
  await db.exec(`PRAGMA journal_mode = ${mode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`);
  await db.run('INSERT INTO t (v) VALUES (?)', ['warm-up']);
  store.resetMetrics();
  await db.run('INSERT INTO t (v) VALUES (?)', ['one row']);
  expect(counts(store)).toEqual({ get: 1, put: 1, delete: 0, list: 0 });
  store.resetMetrics();
  expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 2 });
  expect(counts(store)).toEqual({ get: 1, put: 0, delete: 0, list: 0 });
  await db.close();
});

test('atomic layout with a writer lease: a single-row commit is one PUT, a read transaction none', async () => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db', lease: true });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  await db.run('INSERT INTO t (v) VALUES (?)', ['warm-up']);
  store.resetMetrics();
  for (let i = 0; i < 10; i++) await db.run('INSERT INTO t (v) VALUES (?)', [`row ${i}`]);
  expect(counts(store)).toEqual({ get: 0, put: 10, delete: 0, list: 0 });
  store.resetMetrics();
  expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 11 });
  expect(counts(store)).toEqual({ get: 0, put: 0, delete: 0, list: 0 });
  await db.close();
});

test('atomic layout with freshnessMs: read transactions inside the interval make no request', async () => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db', freshnessMs: 60_000 });
  await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  store.resetMetrics();
  for (let i = 0; i < 20; i++) expect(await db.get('SELECT x FROM t')).toEqual({ x: 1 });
  expect(counts(store)).toEqual({ get: 0, put: 0, delete: 0, list: 0 });
  await db.close();
});

test('atomic layout: opening an existing database reads the head, the commits, the head again beside one LIST; closing makes no request', async () => {
  const store = withMetrics(new MemoryStore());
  const db = await openDatabase({ store, name: 'count.db' });
  await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  store.resetMetrics();
  await db.close();
  expect(counts(store)).toEqual({ get: 0, put: 0, delete: 0, list: 0 });
  const again = await openDatabase({ store, name: 'count.db' });
  // head (none), and beside it, since there is no head, whether a direct-layout block 0 or an
  // SQLite file stored as the object "count.db" is there (2 GETs, no round trip of their own);
  // log/1, log/2–3 (3 is missing), head again beside a LIST for records past 3 (a gap in the
  // history, not its end); then openDatabase's pragmas, a read transaction, look for new commits
  // once (log/3). The pages came inline in the records: no block GET.
  expect(counts(store)).toEqual({ get: 7, put: 0, delete: 0, list: 1 });
  expect(await again.get('SELECT x FROM t')).toEqual({ x: 1 });
  await again.close();
});

function counts(store: { metrics: { get: number; put: number; delete: number; list: number } }) {
  const { get, put, delete: del, list } = store.metrics;
  return { get, put, delete: del, list };
}
