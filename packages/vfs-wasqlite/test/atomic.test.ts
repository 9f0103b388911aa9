import { isBlockVfsError, withMetrics, type BlockStore } from '@blockvfs/core';
import type { StoreCapabilities } from '@blockvfs/core/store';
import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, test } from 'vitest';
import { isBusyError, openDatabase, SqliteError, SYNCHRONOUS_OFF_UNSUPPORTED, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';
import { storeObjects } from './helpers.js';

/**
 * The atomic layout through the Database API: writers racing (the loser gets
 * SQLITE_BUSY), the writer lease, time travel, refusals. "Another process" is another
 * store object over the same objects: the VFS keeps its per-process state (open files,
 * locks) per store object. (Snapshot isolation and garbage collection beside readers
 * run on every store: test-workloads, isolation.ts.)
 */

/** Another store object over `store`'s objects: what a second process would have. */
function otherProcess(store: BlockStore): BlockStore {
  return withMetrics(store);
}

async function open(store: BlockStore, options: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  return openDatabase({ store, name: 'app.db', ...options });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

async function count(db: Database): Promise<number> {
  return Number((await db.get('SELECT count(*) AS n FROM t'))?.n);
}

describe('concurrent writers', () => {
  test('two writers on the same commit: the second gets SQLITE_BUSY (with busyTimeoutMs 0), its transaction is not applied, and a retry succeeds', async () => {
    const store = new MemoryStore();
    const a = await open(store, { busyTimeoutMs: 0 });
    await a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const b = await open(otherProcess(store));

    const lost = await failure(
      a.transaction(async () => {
        expect(await count(a)).toBe(0); // read on commit 1
        await b.run("INSERT INTO t (v) VALUES ('b')"); // meanwhile another process commits 2
        await a.run("INSERT INTO t (v) VALUES ('a')");
      }),
    );
    expect(lost).toBeInstanceOf(SqliteError);
    expect(isBusyError(lost)).toBe(true);
    expect(lost.message).toMatch(/^database is locked \(SQLITE_BUSY\): .*another writer committed seq 2 of "app\.db" first/);
    expect(isBlockVfsError(lost.cause, 'precondition-failed')).toBe(true);

    // a sees b's commit at its next transaction, and its retry commits on top.
    expect(await a.all('SELECT v FROM t')).toEqual([{ v: 'b' }]);
    await a.run("INSERT INTO t (v) VALUES ('a')");
    expect(await b.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'b' }, { v: 'a' }]);
    expect(await b.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await a.close();
    await b.close();
  });

  test('an autocommit statement that loses is rolled back whole, and reports SQLITE_BUSY', async () => {
    const store = new MemoryStore();
    const a = await open(store);
    await a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t (v) VALUES (1), (2), (3)');
    const b = await open(otherProcess(store));
    const slow = await open(otherProcess(store), { freshnessMs: 60_000, busyTimeoutMs: 0 }); // it will not look for b's commit before writing
    await slow.get('SELECT 1 FROM t');
    await b.run('DELETE FROM t WHERE v = 1');
    const lost = await failure(slow.run('UPDATE t SET v = v * 10'));
    expect(isBusyError(lost)).toBe(true);
    // After a lost commit it looks, freshness or not.
    expect(await slow.all('SELECT v FROM t ORDER BY v')).toEqual([{ v: 2 }, { v: 3 }]);
    await slow.run('UPDATE t SET v = v * 10');
    expect(await a.all('SELECT v FROM t ORDER BY v')).toEqual([{ v: 20 }, { v: 30 }]);
    for (const db of [a, b, slow]) await db.close();
  });
});

describe('writer lease', () => {
  test('while one connection holds the lease, another fails fast with SQLITE_BUSY; after close it may write', async () => {
    const store = new MemoryStore();
    const a = await open(store, { lease: true });
    await a.exec('CREATE TABLE t (v)');
    const b = await open(otherProcess(store), { lease: { ttlMs: 5000 } });
    expect(await b.all('SELECT v FROM t')).toEqual([]); // reading needs no lease
    const busy = await failure(b.run('INSERT INTO t VALUES (1)'));
    expect(isBusyError(busy)).toBe(true);
    expect(busy.message).toMatch(/"app\.db" is busy: another writer holds its lease until/);
    await a.run('INSERT INTO t VALUES (2)');
    await a.close(); // releases it
    await b.run('INSERT INTO t VALUES (3)');
    expect(await b.all('SELECT v FROM t ORDER BY v')).toEqual([{ v: 2 }, { v: 3 }]);
    await b.close();
  });

  test('a lease is refused for a read-only connection and for the direct layout', async () => {
    await expect(open(new MemoryStore(), { lease: true, readOnly: true })).rejects.toThrow(/"lease" is for writers/);
    await expect(open(new MemoryStore(), { lease: true, layout: 'direct' })).rejects.toThrow(/"lease" needs the atomic layout, not "direct"/);
  });
});

describe('time travel', () => {
  test('asOf a commit number or a Date opens that state, read-only', async () => {
    const store = new MemoryStore();
    const db = await open(store);
    await db.exec('CREATE TABLE t (v)');
    const versions = [];
    for (let i = 1; i <= 4; i++) {
      await db.run('INSERT INTO t VALUES (?)', [i]);
      versions.push((await db.version())!);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(versions.map((v) => v.commit)).toEqual([2, 3, 4, 5]);
    const second = versions[1]!;
    const old = await open(store, { readOnly: true, asOf: second.commit });
    expect(await old.all('SELECT v FROM t')).toEqual([{ v: 1 }, { v: 2 }]);
    expect(await old.version()).toEqual(second);
    const readOnly = await failure(old.run('INSERT INTO t VALUES (9)'));
    expect(readOnly.message).toMatch(/SQLITE_READONLY/);
    await old.close();
    const byTime = await open(store, { readOnly: true, asOf: versions[2]!.time });
    expect(await byTime.all('SELECT v FROM t')).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    await byTime.close();
    await expect(open(store, { asOf: 2 })).rejects.toThrow(/pass readOnly: true too/);
    await expect(open(store, { readOnly: true, asOf: 99 })).rejects.toMatchObject({ kind: 'not-found' });
    await db.close();
  });
});

describe('refusals', () => {
  test('synchronous=OFF, which would keep commits in memory until close', async () => {
    const db = await open(new MemoryStore());
    const error = await failure(db.exec('PRAGMA synchronous = OFF'));
    expect(error.message).toContain(SYNCHRONOUS_OFF_UNSUPPORTED);
    await db.exec('PRAGMA synchronous = NORMAL');
    await db.close();
  });

  test('a store without conditional puts, unless singleWriter says there is one writer only', async () => {
    const plain = new MemoryStore();
    const capabilities: StoreCapabilities = { ...plain.capabilities, conditionalPut: false };
    const store: BlockStore = {
      name: plain.name,
      capabilities,
      get: (k, r) => plain.get(k, r),
      put: (k, d) => plain.put(k, d),
      delete: (k) => plain.delete(k),
      list: (p, o) => plain.list(p, o),
    };
    const error = await failure(open(store));
    expect(error.message).toMatch(/needs a store with conditional puts.*singleWriter: true/);
    const db = await open(store, { singleWriter: true });
    await db.exec('CREATE TABLE t (v); INSERT INTO t VALUES (1)');
    expect(await db.get('SELECT v FROM t')).toEqual({ v: 1 });
    await db.close();
  });

  test('an existing database opens in the layout it was written in, whatever `layout` says', async () => {
    const store = new MemoryStore();
    const direct = await open(store, { name: 'direct.db', layout: 'direct' });
    await direct.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('direct')");
    await direct.close();
    const atomic = await open(store, { name: 'atomic.db' });
    await atomic.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('atomic')");
    await atomic.close();
    const keys = async () => (await storeObjects(store)).map(({ key }) => key).sort();
    const before = await keys();

    const a = await open(store, { name: 'direct.db' }); // the default, atomic, was asked for
    expect(a.layout).toBe('direct');
    await a.run("INSERT INTO t VALUES ('more')");
    expect(await a.all('SELECT v FROM t')).toEqual([{ v: 'direct' }, { v: 'more' }]);
    await a.close();
    const b = await open(store, { name: 'atomic.db', layout: 'direct' });
    expect(b.layout).toBe('atomic');
    await b.run("INSERT INTO t VALUES ('more')");
    expect(await b.all('SELECT v FROM t')).toEqual([{ v: 'atomic' }, { v: 'more' }]);
    await b.close();
    // Each went on in its own layout: no object of the other layout appeared.
    const added = (await keys()).filter((key) => !before.includes(key));
    expect(added.every((key) => key.startsWith('atomic.db/log/') || key.startsWith('atomic.db/blocks/'))).toBe(true);
    expect(added.some((key) => key.startsWith('atomic.db/log/'))).toBe(true);
    // Options only the atomic layout has are refused for a direct-layout database, with the reason.
    await expect(open(store, { name: 'direct.db', lease: true })).rejects.toThrow(
      /"direct\.db" was written in the direct layout, and "lease" need the atomic layout/,
    );
  });

  test('an SQLite file stored as the one object <name> is refused with a pointer to deserialize, in both layouts, never shadowed', async () => {
    const store = new MemoryStore();
    const file = new Uint8Array(4096);
    file.set(new TextEncoder().encode('SQLite format 3\0'));
    await store.put('upload.sqlite', file);
    for (const layout of ['atomic', 'direct'] as const) {
      await expect(open(store, { name: 'upload.sqlite', layout })).rejects.toThrow(
        /"upload\.sqlite" is an SQLite database file stored as one object.*deserialize/,
      );
      await expect(open(store, { name: 'upload.sqlite', layout, readOnly: true })).rejects.toThrow(/stored as one object/);
    }
    expect((await storeObjects(store)).map(({ key }) => key)).toEqual(['upload.sqlite']); // nothing created beside it
  });
});

describe('checkpoint()', () => {
  test('writes a checkpoint: a later open reads it instead of every commit', async () => {
    const store = new MemoryStore();
    const db = await open(store);
    await db.exec('CREATE TABLE t (v)');
    for (let i = 0; i < 30; i++) await db.run('INSERT INTO t VALUES (?)', [i]);
    const metered = withMetrics(store);
    await (await open(metered)).close();
    const withoutCheckpoint = metered.metrics.get;
    await db.checkpoint();
    metered.resetMetrics();
    const again = await open(metered);
    expect(metered.metrics.get).toBeLessThan(withoutCheckpoint / 3);
    expect(await count(again)).toBe(30);
    await again.close();
    await db.close();
  });
});
