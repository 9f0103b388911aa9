import { isBlockVfsError, type BlockStore, type Layout } from '@blockvfs/core';
import { withFaults, type FaultMode } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, test } from 'vitest';
import { openDatabase, type Database, type Row } from '@blockvfs/vfs-wasqlite';
import { copyStore } from './helpers.js';

/**
 * Crash tests in DELETE journal mode, in both layouts. A fault-free run of a small
 * workload counts its store requests; then, for every request N, the workload runs
 * again on a fresh copy of the same starting state with request N failing. The failing
 * call must name the store failure (message and cause). Then the process "crashes":
 * the connection is abandoned, and the same underlying store is opened as another
 * process would (a new store object, no faults). In the direct layout SQLite must find
 * and roll back the hot journal; in the atomic layout there is nothing to roll back (a
 * commit is its record, or nothing). Either way integrity_check is ok and the rows are
 * exactly those of the acknowledged transactions, plus, all or nothing, the one in flight.
 */

const NAME = 'crash.db';

/** Each step is one transaction. */
const STEPS: Array<(db: Database) => Promise<unknown>> = [
  (db) => db.run("INSERT INTO t (id, v) VALUES (10, 'ten')"),
  (db) =>
    db.transaction(async () => {
      await db.run("UPDATE t SET v = v || '!' WHERE id <= 2");
      await db.run("INSERT INTO t (id, v) VALUES (11, 'eleven')");
    }),
  // Grows the file by several blocks in one commit.
  (db) =>
    db.transaction(async () => {
      for (let i = 0; i < 12; i++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [100 + i, 'x'.repeat(900) + i]);
    }),
  (db) => db.run('DELETE FROM t WHERE id = 1 OR id >= 105'),
];

for (const layout of ['direct', 'atomic'] as Layout[]) {
  async function baseStore(): Promise<MemoryStore> {
    const store = new MemoryStore();
    const db = await openDatabase({ store, name: NAME, layout });
    await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    await db.close();
    return store;
  }

  async function rows(db: Database): Promise<Row[]> {
    return db.all('SELECT id, v FROM t ORDER BY id');
  }

  interface Outcome {
    acknowledged: number;
    error: unknown;
    db: Database | undefined;
  }

  /** Runs the workload over `store`, stopping at the first error. */
  async function workload(store: BlockStore): Promise<Outcome> {
    let acknowledged = 0;
    let db: Database | undefined;
    try {
      db = await openDatabase({ store, name: NAME, layout });
      for (const step of STEPS) {
        await step(db);
        acknowledged += 1;
      }
      await db.close();
      return { acknowledged, error: undefined, db: undefined };
    } catch (error) {
      return { acknowledged, error, db };
    }
  }

  const base = await baseStore();

  /** The rows after each number of acknowledged steps, from a fault-free run; and its request count. */
  const reference = await (async () => {
    const store = await copyStore(base);
    const counted = withFaults(store, { at: [] });
    const snapshots: Row[][] = [];
    const db = await openDatabase({ store: counted, name: NAME, layout });
    snapshots.push(await rows(db));
    for (const step of STEPS) {
      await step(db);
      snapshots.push(await rows(db));
    }
    await db.close();
    // The row reads above cost requests too: count the plain workload alone.
    const again = withFaults(await copyStore(base), { at: [] });
    const outcome = await workload(again);
    if (outcome.error) throw outcome.error;
    return { snapshots, requests: again.faults.requests };
  })();

  /**
   * Runs the workload with a fault at each request in turn, checks the error and the
   * recovered state; returns the requests whose fault reached the caller.
   */
  async function faultEveryRequest(mode: FaultMode | 'crash'): Promise<number[]> {
    const surfaced: number[] = [];
    for (let n = 1; n <= reference.requests; n++) {
      const store = await copyStore(base);
      // 'crash': request n and every later one fail, as when the process dies (SQLite cannot repair
      // anything in-process); the others fail request n alone and let SQLite carry on.
      const faulty =
        mode === 'crash' ? withFaults(store, { at: Array.from({ length: 1000 }, (_, i) => n + i), mode: 'fail' }) : withFaults(store, { at: n, mode });
      const outcome = await workload(faulty);
      expect(faulty.faults.injected, `request ${n}`).toBeGreaterThanOrEqual(1);
      if (outcome.error !== undefined) {
        surfaced.push(n);
        const error = outcome.error as Error;
        expect(error.message, `request ${n}`).toContain('injected fault');
        // A crash fails the requests in flight beside request n too: the message names one of them.
        const named = Number(/\(request (\d+)\)/.exec(error.message)?.[1]);
        if (mode === 'crash') expect(named, `request ${n}: ${error.message}`).toBeGreaterThanOrEqual(n);
        else expect(named, `request ${n}: ${error.message}`).toBe(n);
        expect(isBlockVfsError(error.cause, 'transient'), `request ${n}: cause ${String(error.cause)}`).toBe(true);
      } else {
        expect(outcome.acknowledged).toBe(STEPS.length);
      }

      // Crash: abandon the connection; another "process" opens the same objects.
      faulty.faults.disable();
      // A failed PUT in a growing commit can leave a hole (blocks go up in parallel): it must still open.
      const reopened = await openDatabase({ store, name: NAME, layout });
      try {
        expect(await reopened.get('PRAGMA integrity_check'), `request ${n}`).toEqual({ integrity_check: 'ok' });
        const found = await rows(reopened);
        const k = outcome.acknowledged;
        const allowed = [reference.snapshots[k]];
        if (k < STEPS.length) allowed.push(reference.snapshots[k + 1]); // the transaction in flight: all or nothing
        expect(allowed, `request ${n}: ${k} acknowledged, found ids ${JSON.stringify(found.map((r) => r.id))}`).toContainEqual(found);
      } finally {
        await reopened.close();
        await outcome.db?.close().catch(() => undefined);
      }
    }
    return surfaced;
  }

  describe(`${layout} layout: a fault at every request of the workload`, () => {
    test(`crash at each request (it and all later ones fail): all ${reference.requests} recover`, async () => {
      expect(reference.requests).toBeGreaterThan(layout === 'direct' ? 20 : 10);
      const surfaced = await faultEveryRequest('crash');
      expect(surfaced.length).toBe(reference.requests);
    });

    test(`mode fail-after (the request happened, its answer was lost): all ${reference.requests} recover`, async () => {
      const surfaced = await faultEveryRequest('fail-after');
      // Nearly every fault reaches the caller (SQLite absorbs a few, e.g. on a journal it rewrites anyway).
      // In the atomic layout a commit record that landed is read back and the commit succeeds.
      expect(surfaced.length).toBeGreaterThan(reference.requests * (layout === 'direct' ? 0.8 : 0.5));
    });

    test(`mode fail (the request never reached the store, later ones do): all ${reference.requests} recover`, async () => {
      const surfaced = await faultEveryRequest('fail');
      expect(surfaced.length).toBeGreaterThan(reference.requests * 0.8);
    });
  });
}
