import { AtomicFormat, atomicCheckpointKey, atomicCommitKey, WriterLease } from '@blockvfs/core/format';
import { breakLease, collectGarbage, isBlockVfsError, withCache, withMetrics, type BlockStore } from '@blockvfs/core';
import { ManualClock, withFaults } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { isBusyError, MAX_NAME_BYTES, openDatabase, SqliteError, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';
import { describe, expect, test } from 'vitest';

/**
 * The reproductions of the trust issue, through SQL: each one lost an acknowledged
 * commit, showed a wrong state or hid damage before. "Another process" is another
 * store object over the same objects (the VFS keeps its per-process state per store
 * object); faults and time are injected where a reproduction needs them.
 */

const NAME = 'trust.db';
const MINUTE = 60_000;

/** Another store object over `store`'s objects: what a second process would have. */
function processOf(store: BlockStore): BlockStore {
  return withMetrics(store);
}

function open(store: BlockStore, options: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  return openDatabase({ store, name: NAME, ...options });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

async function ids(db: Database): Promise<number[]> {
  return (await db.all<{ id: number }>('SELECT id FROM t ORDER BY id')).map((row) => row.id);
}

/** The store's error behind an SQL error (its cause), or the error itself. */
function storeError(error: Error): Error {
  return error instanceof SqliteError && error.cause instanceof Error ? error.cause : error;
}

/** A database `t (id, v)` with rows 1…`rows`, written and closed by a process of its own. */
async function seeded(rows: number, options: Partial<OpenDatabaseOptions> = {}): Promise<MemoryStore> {
  const store = new MemoryStore();
  const db = await open(store, options);
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  for (let id = 1; id <= rows; id++) await db.run('INSERT INTO t VALUES (?, ?)', [id, 'seed']);
  await db.close();
  return store;
}

describe('a view moves whole or not at all', () => {
  // A's refresh reads B's records in windows of 1, 2, 4…: each position of a failing GET, for a
  // writer and for a read-only process. Before, the format moved part-way while the file kept its
  // old size and copies of its own last commit: rows vanished, a commit overwrote B's, or every
  // query of the read-only process failed with SQLITE_CORRUPT until it reopened.
  for (const readOnly of [false, true]) {
    for (let position = 1; position <= 4; position++) {
      test(`${readOnly ? 'read-only' : 'writer'}: the GET at position ${position} of a refresh fails once; the next read sees every commit, the next write keeps them`, async () => {
        const inner = await seeded(1);
        const a = withFaults(processOf(inner), { ops: ['get'], keys: /\/log\//, at: [] });
        const dbA = await open(a, { readOnly });
        if (!readOnly) await dbA.run("INSERT INTO t VALUES (10, 'a')"); // A has a commit of its own, whose blocks it keeps
        const dbB = await open(processOf(inner));
        for (let id = 2; id <= 5; id++) await dbB.run('INSERT INTO t VALUES (?, ?)', [id, 'b']); // acknowledged
        a.faults.failNext(1, position - 1);
        const read = await failure(ids(dbA));
        expect(read.message).toMatch(/injected fault/);
        const expected = readOnly ? [1, 2, 3, 4, 5] : [1, 2, 3, 4, 5, 10];
        expect(await ids(dbA)).toEqual(expected);
        expect(await dbA.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
        if (!readOnly) {
          await dbA.run("INSERT INTO t VALUES (11, 'a')");
          expect(await ids(dbB)).toEqual([...expected, 11]);
        }
        await dbA.close();
        await dbB.close();
      });
    }
  }

  test('a transaction longer than a minute loses to another writer (SQLITE_BUSY); its retry commits on top, keeping the other commit', async () => {
    const clock = new ManualClock();
    const inner = await seeded(1, { clock });
    // busyTimeoutMs 0: the SQLITE_BUSY reaches the caller, who runs the transaction again (a
    // Database's own busy waits go through the clock, which this test moves by hand).
    const dbA = await open(processOf(inner), { clock, busyTimeoutMs: 0 });
    await dbA.run("INSERT INTO t VALUES (10, 'a')"); // A keeps copies of the blocks of its own last commit
    const dbB = await open(processOf(inner), { clock });
    let attempts = 0;
    const transaction = () =>
      dbA.transaction(async () => {
        attempts += 1;
        await dbA.get('SELECT count(*) AS n FROM t');
        if (attempts === 1) {
          clock.advance(MINUTE + 1000); // the view is now too old to commit on without looking
          await dbB.run("INSERT INTO t VALUES (2, 'b')"); // acknowledged meanwhile
        }
        await dbA.run('INSERT INTO t VALUES (?, ?)', [10 + attempts, 'a']);
      });
    const lost = await failure(transaction());
    expect(isBusyError(lost)).toBe(true);
    await transaction(); // the retry the docs recommend
    expect(await ids(dbB)).toEqual([1, 2, 10, 12]);
    expect(await dbB.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await dbA.close();
    await dbB.close();
  });

  test('a writer with freshness ≥ 60 s, idle for a minute, loses its commit to another writer (SQLITE_BUSY); its retry keeps the other commit', async () => {
    const clock = new ManualClock();
    const inner = await seeded(1, { clock });
    const dbA = await open(processOf(inner), { clock, freshnessMs: 2 * MINUTE, busyTimeoutMs: 0 });
    await dbA.run("INSERT INTO t VALUES (10, 'a')");
    const dbB = await open(processOf(inner), { clock });
    await dbB.run("INSERT INTO t VALUES (2, 'b')");
    clock.advance(MINUTE + 1000); // within A's freshness, so its read does not look; past the view's trust window
    const lost = await failure(dbA.run("INSERT INTO t VALUES (11, 'a')"));
    expect(isBusyError(lost)).toBe(true);
    await dbA.run("INSERT INTO t VALUES (11, 'a')");
    expect(await ids(dbB)).toEqual([1, 2, 10, 11]);
    await dbA.close();
    await dbB.close();
  });
});

describe('a failed commit is over', () => {
  // A transaction larger than SQLite's page cache is not written batch-atomically: SQLite
  // spills pages into the file and journals their originals. When its commit loses to
  // another writer (here found by the look a view older than a minute takes before
  // committing, which moves the view to the other writer's commit), SQLite rolls back by
  // writing those originals (from the old view) and syncing: that must not become a
  // commit on top of the other writer's.
  test('a spilling transaction that loses a race: its rollback commits nothing, the other writer’s row stays', async () => {
    const clock = new ManualClock();
    const inner = await seeded(1, { clock });
    const a = await open(processOf(inner), { clock, busyTimeoutMs: 0 });
    await a.exec('PRAGMA cache_size = 10');
    const b = await open(processOf(inner), { clock });
    const lost = await failure(
      a.transaction(async () => {
        for (let id = 100; id < 160; id++) await a.run('INSERT INTO t VALUES (?, ?)', [id, 'x'.repeat(3000)]);
        await b.run("INSERT INTO t VALUES (2, 'b')"); // acknowledged while a's transaction runs
        clock.advance(MINUTE + 1000);
      }),
    );
    expect(isBusyError(lost)).toBe(true);
    const other = await open(processOf(inner));
    expect(await ids(other)).toEqual([1, 2]);
    expect(await other.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await ids(a)).toEqual([1, 2]);
    await a.run("INSERT INTO t VALUES (3, 'a')");
    expect(await ids(other)).toEqual([1, 2, 3]);
    for (const db of [a, b, other]) await db.close();
  });
});

describe('history that cannot be silently shortened', () => {
  test('a deleted record with later ones present is a permanent error naming it, never the end of history; no writer re-creates it', async () => {
    const store = await seeded(6);
    await store.delete([atomicCommitKey(NAME, 3)]);
    const error = storeError(await failure(open(processOf(store))));
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
    expect(error.message).toContain(`"${atomicCommitKey(NAME, 3)}" is missing, but later ones exist`);
    expect(await store.get(atomicCommitKey(NAME, 3))).toBeUndefined(); // nobody wrote it again
    // What remains before the gap can still be copied out.
    const before = await open(processOf(store), { readOnly: true, asOf: 2 });
    expect(await ids(before)).toEqual([1]);
    await before.close();
  });

  test('a process that was open before the gap appeared finds it when its view is next checked against the store', async () => {
    const clock = new ManualClock();
    const store = await seeded(2, { clock });
    const reader = await open(processOf(store), { clock, readOnly: true });
    expect(await ids(reader)).toEqual([1, 2]);
    const writer = await open(processOf(store), { clock });
    for (let id = 3; id <= 6; id++) await writer.run('INSERT INTO t VALUES (?, ?)', [id, 'w']);
    await writer.close();
    await store.delete([atomicCommitKey(NAME, 4)]);
    clock.advance(2 * MINUTE); // an old view: the refresh lists past its end
    const error = storeError(await failure(ids(reader)));
    expect(error.message).toContain(`"${atomicCommitKey(NAME, 4)}" is missing, but later ones exist`);
    await reader.close();
  });

  test('a block object cut short, cut to nothing, or with a flipped byte is a permanent error naming the object', async () => {
    const store = new MemoryStore();
    const db = await open(store);
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    // Larger than the inline limit: its pages become block objects.
    await db.run("INSERT INTO t VALUES (1, printf('%.200000c', 'x'))");
    await db.close();
    const blocks: string[] = [];
    for await (const entry of store.list(`${NAME}/blocks/`)) blocks.push(entry.key);
    const key = blocks[blocks.length - 2] as string; // an overflow page of the row, read by the scan
    const original = (await store.get(key)) as Uint8Array;
    const damages: Array<[string, Uint8Array, RegExp]> = [
      ['cut short', original.subarray(0, 100), new RegExp(`it has 100 bytes, but block \\d+ has ${original.length}`)],
      ['cut to nothing', new Uint8Array(0), new RegExp(`it has 0 bytes, but block \\d+ has ${original.length}`)],
      [
        'a flipped byte',
        Uint8Array.from(original, (byte, i) => (i === 1000 ? byte ^ 1 : byte)),
        /its CRC-32C is [0-9a-f]{8}, but commit \d+ recorded [0-9a-f]{8}/,
      ],
    ];
    for (const [what, bytes, problem] of damages) {
      await store.put(key, bytes);
      const reader = await open(processOf(store), { readOnly: true }); // a new process: nothing cached
      const error = await failure(reader.get('SELECT length(v) AS n FROM t'));
      expect(error.message, what).toContain(`block object "${key}" of "${NAME}" is damaged`);
      expect(error.message, what).toMatch(problem);
      expect(isBlockVfsError(storeError(error), 'permanent'), what).toBe(true);
      await reader.close();
    }
    await store.put(key, original);
    const healed = await open(processOf(store), { readOnly: true });
    expect(await healed.get('SELECT length(v) AS n FROM t')).toEqual({ n: 200_000 });
    await healed.close();
  });

  test('a head naming a missing checkpoint whose records were deleted too is permanent damage, named, not "try again"', async () => {
    const store = await seeded(5);
    const db = await open(processOf(store));
    await db.checkpoint(); // checkpoint 6
    await db.run("INSERT INTO t VALUES (7, 'x')");
    await db.close();
    await store.delete([atomicCheckpointKey(NAME, 6), ...[1, 2, 3, 4, 5, 6].map((seq) => atomicCommitKey(NAME, seq))]);
    const error = storeError(await failure(open(processOf(store))));
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
    expect(error.message).toContain(`its head names checkpoint 6 (object "${atomicCheckpointKey(NAME, 6)}"), which is missing`);
  });
});

describe('mutable objects are never read through a cache', () => {
  test('the atomic layout refuses a store wrapped in withCache (its head went backwards after another process collected garbage)', async () => {
    const store = await seeded(1);
    const error = await failure(open(withCache(store, { maxBytes: 1 << 20 })));
    expect(error.message).toMatch(/cannot use a store wrapped in withCache/);
    await expect(collectGarbage({ store: withCache(store, { maxBytes: 1 << 20 }), name: NAME })).rejects.toThrow(/wrapped in withCache/);
  });
});

describe('the writer lease: bounded, checked, breakable', () => {
  test('a dead owner’s lease with a far-future expiry does not block writers forever', async () => {
    // The holder's clock was a year ahead, or at the end of time: its lease expires far past the ttl bound.
    for (const start of [Date.now() + 365 * 24 * 60 * MINUTE, 2 ** 53 - 1 - 30_000]) {
      const store = await seeded(1);
      const dead = new WriterLease(processOf(store), NAME, { ttlMs: 30_000 }, new ManualClock(start));
      await dead.ensure(); // and then its process died without releasing it
      const writer = await open(processOf(store), { lease: true });
      await writer.run("INSERT INTO t VALUES (2, 'alive')"); // a lease further out than the ttl bound allows is void
      expect(await ids(writer)).toEqual([1, 2]);
      await writer.close();
    }
  });

  test('breakLease frees a live-looking lease of a process known to be gone; the error says so', async () => {
    const store = await seeded(1);
    const holder = await open(processOf(store), { lease: { ttlMs: 10 * MINUTE } });
    await holder.run("INSERT INTO t VALUES (2, 'holder')");
    const other = await open(processOf(store), { lease: true });
    const busy = await failure(other.run("INSERT INTO t VALUES (3, 'other')"));
    expect(busy.message).toMatch(/holds its lease until .*breakLease\(\) frees it now/);
    const broken = await breakLease({ store, name: NAME });
    expect(broken?.expires).toBeGreaterThan(Date.now());
    await other.run("INSERT INTO t VALUES (3, 'other')");
    expect(await ids(other)).toEqual([1, 2, 3]);
    expect(await breakLease({ store, name: 'no-such.db' })).toBeUndefined();
    await other.close();
    await holder.close().catch(() => undefined);
  });

  test('lease ttl is bounded', async () => {
    const store = await seeded(1);
    for (const ttl of [999, 10 * MINUTE + 1]) {
      await expect(open(processOf(store), { lease: { ttlMs: ttl } })).rejects.toThrow(/lease ttlMs must be an integer of 1000 to 600000 ms/);
    }
  });
});

describe('direct layout', () => {
  test('a process that closed a database re-learns its journal at the next open: another process’s crash mid-commit is rolled back, not corrupt', async () => {
    const inner = new MemoryStore();
    const a = processOf(inner);
    const first = await open(a, { layout: 'direct' });
    await first.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
    await first.close();
    // Another process dies at its 6th put of a 60 kB insert: a hot journal stays on the store.
    const crashing = withFaults(processOf(inner), { ops: ['put'], at: Array.from({ length: 1000 }, (_, i) => 6 + i) });
    const other = await open(crashing, { layout: 'direct' });
    await failure(other.run("INSERT INTO t VALUES (2, printf('%.60000c', 'b'))"));
    expect(await inner.get(`${NAME}-journal/0000000000`)).toBeDefined();
    const again = await open(a, { layout: 'direct' });
    expect(await again.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await ids(again)).toEqual([1]);
    await again.close();
    await other.close().catch(() => undefined);
  });

  test('a database name that is another database’s journal is refused', async () => {
    const store = new MemoryStore();
    for (const name of ['x-journal', 'x-wal']) {
      await expect(openDatabase({ store, name, layout: 'direct' })).rejects.toThrow(
        /ends with "-(journal|wal)".*where the (journal|wal) of database "x" lives/,
      );
    }
  });
});

describe('bad input is refused with a clear error', () => {
  test('names, asOf, blockSize, a store without capabilities, collectGarbage’s now', async () => {
    const store = await seeded(1);
    await expect(openDatabase({ store, name: 'a'.repeat(MAX_NAME_BYTES + 1) })).rejects.toThrow(
      /is 1017 bytes long in UTF-8; a database name may have at most 1016/,
    );
    const longest = await openDatabase({ store, name: 'a'.repeat(MAX_NAME_BYTES) });
    await longest.exec('CREATE TABLE t (x)');
    await longest.close();
    await expect(open(store, { readOnly: true, asOf: new Date('x') })).rejects.toThrow(
      /"asOf" must be a commit number \(1 or more\) or a valid Date, got an invalid Date/,
    );
    await expect(open(store, { blockSize: 64 * 1024 * 1024 })).rejects.toThrow(/block size must be an integer of 1 to 16777216 bytes/);
    const bare = { name: 'bare', get: store.get.bind(store), put: store.put.bind(store), delete: store.delete.bind(store), list: store.list.bind(store) };
    await expect(openDatabase({ store: bare as unknown as BlockStore, name: NAME })).rejects.toThrow(/has no "capabilities"/);
    await expect(collectGarbage({ store, name: NAME, now: Number.NaN })).rejects.toThrow(/now must be a time in ms since the epoch/);
  });
});

test('a damaged lease object is named, and breakLease replaces it', async () => {
  const store = await seeded(1);
  await store.put(`${NAME}/lease`, new TextEncoder().encode('not a lease'));
  const writer = await open(processOf(store), { lease: true });
  const error = await failure(writer.run("INSERT INTO t VALUES (2, 'x')"));
  expect(error.message).toMatch(/"trust\.db\/lease" is not a valid writer lease.*breakLease\(\) replaces it/);
  expect(await breakLease({ store, name: NAME })).toBeUndefined();
  await writer.run("INSERT INTO t VALUES (2, 'x')");
  expect(await ids(writer)).toEqual([1, 2]);
  await writer.close();
});

test('journal_mode=OFF: a rolled-back transaction that spilled its page cache leaves nothing behind, and the process keeps seeing other commits', async () => {
  // SQLite cannot undo the pages it spilled without a journal, but none of them was committed: the
  // atomic layout drops them when the transaction ends, so the file is the last commit again.
  const inner = await seeded(1);
  const a = await open(processOf(inner));
  await a.exec('PRAGMA cache_size = 10; PRAGMA journal_mode = OFF');
  const b = await open(processOf(inner));
  await a.exec('BEGIN');
  for (let id = 100; id < 160; id++) await a.run('INSERT INTO t VALUES (?, ?)', [id, 'x'.repeat(3000)]);
  await a.exec('ROLLBACK');
  await b.run("INSERT INTO t VALUES (2, 'b')");
  expect(await ids(a)).toEqual([1, 2]);
  expect(await a.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
  for (const db of [a, b]) await db.close();
});

test('VACUUM after deleting large rows shrinks the stored file, and the process keeps seeing other commits', async () => {
  const inner = await seeded(1);
  const a = await open(processOf(inner));
  for (let id = 100; id < 130; id++) await a.run('INSERT INTO t VALUES (?, ?)', [id, 'x'.repeat(3000)]);
  const storedSize = async () => (await AtomicFormat.open(processOf(inner), NAME, { blockSize: 4096 })).size;
  const before = await storedSize();
  await a.run('DELETE FROM t WHERE id >= 100');
  await a.exec('VACUUM');
  expect(await storedSize()).toBeLessThan(before / 4); // SQLite's truncation after the commit was committed too
  const b = await open(processOf(inner));
  await b.run("INSERT INTO t VALUES (2, 'b')");
  expect(await ids(a)).toEqual([1, 2]);
  for (const db of [a, b]) await db.close();
});
