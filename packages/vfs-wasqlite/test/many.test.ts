import { withFaults, withLatency } from '@blockvfs/core/testing';
import { withMetrics, type BlockStore } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { afterEach, describe, expect, test } from 'vitest';
import { isBusyError, openDatabase, SqliteError, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';

/**
 * Many databases and connections in one process: each Database runs on an engine of
 * its own (a SQLite module and its queue), so none waits for another's requests; two
 * connections to one atomic-layout database have views of their own, as two processes
 * would; SQLITE_BUSY is waited out for the caller (busyTimeoutMs).
 */

const opened: Database[] = [];
async function open(store: BlockStore, options: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  const db = await openDatabase({ store, name: 'many.db', ...options });
  opened.push(db);
  return db;
}
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close().catch(() => undefined);
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

describe('databases side by side', () => {
  test('a database whose store hangs holds up no other database of the process', async () => {
    const hanging = withFaults(new MemoryStore(), { mode: 'hang', ops: ['get'], at: [] });
    const stuck = await open(hanging);
    await stuck.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    const healthy = await open(withLatency(new MemoryStore(), 2), { name: 'other.db' });
    await healthy.exec('CREATE TABLE t (x)');
    hanging.faults.failNext(1000); // every GET from now on hangs
    const waiting = stuck.get('SELECT x FROM t'); // its refresh hangs
    const started = performance.now();
    for (let i = 0; i < 20; i++) await healthy.run('INSERT INTO t VALUES (?)', [i]);
    expect(await healthy.get('SELECT count(*) AS n FROM t')).toEqual({ n: 20 });
    expect(performance.now() - started).toBeLessThan(5000);
    hanging.faults.releaseHung(); // the stuck request fails at last
    const error = await failure(waiting);
    expect(error.message).toMatch(/injected fault/);
  });

  test('sixteen databases commit side by side: their requests overlap', async () => {
    const store = withMetrics(withLatency(new MemoryStore(), 20));
    const dbs = await Promise.all(Array.from({ length: 16 }, (_, i) => open(store, { name: `tenant-${i}.db`, lease: true })));
    await Promise.all(dbs.map((db) => db.exec('CREATE TABLE t (x)')));
    const started = performance.now();
    await Promise.all(
      dbs.map(async (db) => {
        for (let i = 0; i < 5; i++) await db.run('INSERT INTO t VALUES (?)', [i]);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    // 80 commits of one 20 ms PUT each: one at a time they would take 1.6 s at the very least.
    expect(seconds).toBeLessThan(1.2);
    for (const db of dbs) expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 5 });
  });
});

describe('two connections to one database (atomic layout)', () => {
  test('a read transaction keeps its snapshot while the other connection commits, and does not block it', async () => {
    const store = new MemoryStore();
    const reader = await open(store);
    const writer = await open(store);
    await writer.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await reader.transaction(async () => {
      expect(await reader.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
      await writer.run('INSERT INTO t VALUES (2)'); // commits at once: no SQLITE_BUSY
      expect(await reader.all('SELECT x FROM t')).toEqual([{ x: 1 }]); // the snapshot it began on
    });
    expect(await reader.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }]);
  });

  test('racing read-modify-write transactions, two connections and two processes, with the default busyTimeoutMs: every increment lands once', async () => {
    const inner = new MemoryStore();
    const stores = [inner, inner, withMetrics(inner), withMetrics(inner)]; // two connections of one process, then two processes
    const setup = await open(inner);
    await setup.exec('CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)');
    const dbs = await Promise.all(stores.map((store) => open(store)));
    let attempts = 0;
    await Promise.all(
      dbs.map(async (db) => {
        for (let i = 0; i < 15; i++) {
          await db.transaction(async () => {
            attempts += 1;
            const { n } = (await db.get<{ n: number }>('SELECT n FROM counter')) as { n: number };
            await new Promise((resolve) => setTimeout(resolve, 1)); // let the others read the same n
            await db.run('UPDATE counter SET n = ?', [n + 1]);
          });
        }
      }),
    );
    expect(await setup.get('SELECT n FROM counter')).toEqual({ n: 60 });
    expect(attempts).toBeGreaterThan(60); // races happened, and were run again
  });
});

describe('two connections to one database (direct layout)', () => {
  test("they share the file and SQLite's locks: racing increments beside a scanning reader, with the default busyTimeoutMs, land once each", async () => {
    // Requests that take time, so that the connections' calls interleave inside the shared PagedFile.
    const store = withLatency(new MemoryStore(), 2);
    const setup = await open(store, { layout: 'direct' });
    await setup.exec('CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0); CREATE TABLE t (v TEXT)');
    await setup.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO t SELECT printf('%0500d', i) FROM n");
    const writers = await Promise.all([0, 1].map(() => open(store, { layout: 'direct' })));
    const reader = await open(store, { layout: 'direct' });
    let scanning = true;
    const scans = (async () => {
      let count = 0;
      while (scanning) {
        expect(await reader.get('SELECT count(*) AS n, sum(length(v)) AS bytes FROM t')).toEqual({ n: 300, bytes: 150_000 });
        count += 1;
        // A scan served from memory never waits for a timer: let the writers' requests finish.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return count;
    })();
    await Promise.all(
      writers.map(async (db) => {
        for (let i = 0; i < 10; i++) {
          await db.transaction(async () => {
            const { n } = (await db.get<{ n: number }>('SELECT n FROM counter')) as { n: number };
            await db.run('UPDATE counter SET n = ?', [n + 1]);
          });
        }
      }),
    );
    scanning = false;
    expect(await scans).toBeGreaterThan(0);
    expect(await setup.get('SELECT n FROM counter')).toEqual({ n: 20 });
    expect(await setup.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
  });
});

describe('busyTimeoutMs', () => {
  test('SQLITE_BUSY is thrown once the timeout is spent, and the wait never blocks the process', async () => {
    const store = new MemoryStore();
    const holder = await open(store, { lease: true });
    await holder.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)'); // holds the lease until close
    const waiter = await open(withMetrics(store), { lease: true, busyTimeoutMs: 300 });
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 10);
    const started = performance.now();
    const busy = await failure(waiter.run('INSERT INTO t VALUES (2)'));
    const waited = performance.now() - started;
    clearInterval(timer);
    expect(isBusyError(busy)).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3000);
    expect(ticks).toBeGreaterThan(5); // timers ran all along
    await holder.close(); // releases the lease
    await waiter.run('INSERT INTO t VALUES (2)');
  });

  test('a waiting writer gets through once the lease holder closes', async () => {
    const store = new MemoryStore();
    const holder = await open(store, { lease: true });
    await holder.exec('CREATE TABLE t (x)');
    const waiter = await open(withMetrics(store), { lease: true });
    const insert = waiter.run('INSERT INTO t VALUES (2)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await holder.close();
    await insert;
    expect(await waiter.all('SELECT x FROM t')).toEqual([{ x: 2 }]);
  });

  test('PRAGMA busy_timeout reads and sets it; a bad value is refused; busyTimeoutMs 0 throws at once', async () => {
    const db = await open(new MemoryStore(), { busyTimeoutMs: 1234 });
    // One row, one column: the value (SQLite names a VFS's pragma answer after the answer itself).
    const value = async (sql: string) => Object.values((await db.get(sql)) ?? {})[0];
    expect(await value('PRAGMA busy_timeout')).toBe('1234');
    expect(await value('PRAGMA busy_timeout = 50')).toBe('50');
    expect(db.busyTimeoutMs).toBe(50);
    await expect(db.exec('PRAGMA busy_timeout = -1')).rejects.toThrow(/busy_timeout must be a whole number of ms/);
    await expect(open(new MemoryStore(), { busyTimeoutMs: -5 })).rejects.toThrow(/"busyTimeoutMs" must be a whole number of ms/);
    const store = new MemoryStore();
    const holder = await open(store, { lease: true });
    await holder.exec('CREATE TABLE t (x)');
    const impatient = await open(withMetrics(store), { lease: true, busyTimeoutMs: 0 });
    const started = performance.now();
    const busy = await failure(impatient.run('INSERT INTO t VALUES (1)'));
    expect(busy).toBeInstanceOf(SqliteError);
    expect(isBusyError(busy)).toBe(true);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
