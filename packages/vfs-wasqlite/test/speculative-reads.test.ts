import { withMetrics, type BlockStore } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, test } from 'vitest';
import { openDatabase, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';

/**
 * A read transaction of run/get/all (autocommit, freshness 0) does not wait for its look
 * for other writers' commits before it reads: the look and the first block reads travel
 * together, and the result is held back until the look answers (AtomicVFS.speculate). A
 * look that found a newer commit makes the call run again. These tests check what a
 * caller sees: never a result older than a commit made before the call began.
 * "Another process" is another store object over the same objects.
 */

const LOG_KEY = /\/log\//;
const BLOCK_KEY = /\/blocks\//;

/** A store whose GETs of commit records wait for `release()` while `hold()` is on; it counts GETs in flight together. */
function gatedStore(base: BlockStore) {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let inFlight = 0;
  let mostInFlight = 0;
  let heldLooks = 0;
  let blockGate: Promise<void> | undefined;
  let openBlocks: (() => void) | undefined;
  let heldBlocks = 0;
  const store: BlockStore = {
    name: base.name,
    capabilities: base.capabilities,
    get: async (key, range) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        if (gate && LOG_KEY.test(key)) {
          heldLooks += 1;
          await gate;
        } else if (blockGate && BLOCK_KEY.test(key)) {
          heldBlocks += 1;
          await blockGate;
        }
        // A round trip's worth of waiting, so that requests started together overlap.
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await base.get(key, range);
      } finally {
        inFlight -= 1;
      }
    },
    put: (key, data, condition) => base.put(key, data, condition),
    delete: (keys) => base.delete(keys),
    list: (prefix, options) => base.list(prefix, options),
  };
  return {
    store,
    hold() {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open?.();
    },
    holdBlocks() {
      blockGate = new Promise<void>((resolve) => (openBlocks = resolve));
    },
    releaseBlocks() {
      blockGate = undefined;
      openBlocks?.();
    },
    get heldBlocks() {
      return heldBlocks;
    },
    get heldLooks() {
      return heldLooks;
    },
    get mostInFlight() {
      return mostInFlight;
    },
    resetMostInFlight() {
      mostInFlight = inFlight;
    },
  };
}

async function open(store: BlockStore, options: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  return openDatabase({ store, name: 'app.db', ...options });
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
}

/**
 * A table t with one row ('first') on a shared store, and `count` connections of one process
 * through a gated store over it, each having read the row (its pages in memory).
 */
async function firstRowBehindGate(count: number): Promise<{ shared: MemoryStore; gated: ReturnType<typeof gatedStore>; connections: Database[] }> {
  const shared = new MemoryStore();
  const setup = await open(shared);
  await setup.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('first')");
  await setup.close();
  const gated = gatedStore(shared);
  const connections: Database[] = [];
  for (let i = 0; i < count; i++) connections.push(await open(gated.store));
  for (const db of connections) expect(await db.all('SELECT v FROM t')).toEqual([{ v: 'first' }]);
  return { shared, gated, connections };
}

describe('reads that do not wait for their look', () => {
  test('a read answered from memory while another process commits returns the newer state', async () => {
    const shared = new MemoryStore();
    const reader = await open(withMetrics(shared));
    const writer = await open(withMetrics(shared));
    await writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    for (let round = 1; round <= 20; round++) {
      expect(await reader.get('SELECT count(*) AS n FROM t')).toEqual({ n: round - 1 }); // every page in memory
      await writer.run('INSERT INTO t (v) VALUES (?)', [`row ${round}`]);
      // The reader's pages are all in memory and stale: its look finds the commit, and the call runs again.
      expect(await reader.get('SELECT count(*) AS n FROM t')).toEqual({ n: round });
      expect(await reader.all('SELECT v FROM t WHERE id = ?', [round])).toEqual([{ v: `row ${round}` }]);
    }
    await reader.close();
    await writer.close();
  });

  test('a cold point query sends its look and its block GET together', async () => {
    const shared = new MemoryStore();
    const writer = await open(shared);
    await writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await writer.transaction(async () => {
      for (let id = 1; id <= 2000; id++) await writer.run('INSERT INTO t VALUES (?, ?)', [id, 'x'.repeat(200)]);
    });
    await writer.close();
    const gated = gatedStore(shared);
    const reader = await open(gated.store);
    await reader.get('SELECT v FROM t WHERE id = 1'); // the root and first leaf in memory
    gated.resetMostInFlight();
    expect(await reader.get('SELECT v FROM t WHERE id = 1999')).toEqual({ v: 'x'.repeat(200) }); // a leaf not yet read
    expect(gated.mostInFlight).toBe(2); // the look and the leaf's block, together
    await reader.close();
  });

  test('a write whose read ran ahead of a look that found a newer commit runs again on top of it', async () => {
    const shared = new MemoryStore();
    const a = await open(withMetrics(shared));
    const b = await open(withMetrics(shared));
    await a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t (v) VALUES (1)');
    expect(await b.all('SELECT v FROM t')).toEqual([{ v: 1 }]);
    await a.run('INSERT INTO t (v) VALUES (2)');
    // b's pages say one row; its look finds a's commit before b writes, and the update runs again.
    expect(await b.run('UPDATE t SET v = v * 10')).toMatchObject({ changes: 2 });
    expect(await a.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 10 }, { v: 20 }]);
    expect(await a.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await a.close();
    await b.close();
  });

  test("two connections of one process (each with its own view): a commit made while one's look is in flight is seen by both", async () => {
    const { shared, gated, connections } = await firstRowBehindGate(2);
    const [one, two] = connections as [Database, Database];

    gated.hold();
    const first = one.all('SELECT v FROM t ORDER BY id'); // answered from memory, held back for its look
    await until(() => gated.heldLooks === 1);
    const second = two.all('SELECT v FROM t ORDER BY id');
    const other = await open(withMetrics(shared));
    await other.run("INSERT INTO t (v) VALUES ('second')"); // another process commits before the look reaches the store
    await other.close();
    gated.release();
    const both = [{ v: 'first' }, { v: 'second' }];
    expect(await first).toEqual(both);
    expect(await second).toEqual(both);
    await one.close();
    await two.close();
  });

  test("an iterate (which waits for its look) begun while another connection's look is in flight sees the same commit", async () => {
    const { shared, gated, connections } = await firstRowBehindGate(2);
    const [one, two] = connections as [Database, Database];

    gated.hold();
    const first = one.all('SELECT v FROM t ORDER BY id');
    await until(() => gated.heldLooks === 1);
    const other = await open(withMetrics(shared));
    await other.run("INSERT INTO t (v) VALUES ('second')");
    await other.close();
    const seen: string[] = [];
    const second = (async () => {
      for await (const row of two.iterate<{ v: string }>('SELECT v FROM t ORDER BY id')) seen.push(row.v);
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    gated.release();
    await second;
    expect(await first).toEqual([{ v: 'first' }, { v: 'second' }]);
    expect(seen).toEqual(['first', 'second']);
    expect(await two.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await one.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'first' }, { v: 'second' }]);
    await one.close();
    await two.close();
  });

  test("a second call on the same connection waits for the first call's look in flight, and sees a commit made before it began", async () => {
    const { shared, gated, connections } = await firstRowBehindGate(1);
    const [db] = connections as [Database];

    gated.hold();
    const first = db.all('SELECT v FROM t ORDER BY id'); // answered from memory, held back for its look
    await until(() => gated.heldLooks === 1);
    const other = await open(withMetrics(shared));
    await other.run("INSERT INTO t (v) VALUES ('second')");
    await other.close();
    // Begun after that commit: it must see it, though its pages in memory say otherwise and the
    // first call's look (which will find the commit) is still in flight.
    const second = db.all('SELECT v FROM t ORDER BY id');
    await new Promise((resolve) => setTimeout(resolve, 20));
    gated.release();
    const both = [{ v: 'first' }, { v: 'second' }];
    expect(await second).toEqual(both);
    expect(await first).toEqual(both);
    await db.close();
  });

  test('a failed look fails the call as a waited-for look would, and the next call succeeds', async () => {
    const shared = new MemoryStore();
    const setup = await open(shared);
    await setup.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('x')");
    await setup.close();
    let failLooks = false;
    const flaky: BlockStore = {
      name: shared.name,
      capabilities: shared.capabilities,
      get: (key, range) => (failLooks && LOG_KEY.test(key) ? Promise.reject(new Error('look refused')) : shared.get(key, range)),
      put: (key, data, condition) => shared.put(key, data, condition),
      delete: (keys) => shared.delete(keys),
      list: (prefix, options) => shared.list(prefix, options),
    };
    const db = await open(flaky);
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 'x' }]);
    failLooks = true;
    const error = await db.all('SELECT v FROM t').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toMatchObject({ codeName: 'SQLITE_IOERR_LOCK', message: expect.stringMatching(/look refused/) });
    failLooks = false;
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 'x' }]);
    await db.close();
  });
});
