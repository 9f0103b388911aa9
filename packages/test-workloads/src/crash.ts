import assert from 'node:assert/strict';
import { isBlockVfsError, type BlockStore, type Layout } from '@blockvfs/core';
import { withFaults } from '@blockvfs/core/testing';
import { openDatabase, type Database, type Row } from '@blockvfs/vfs-wasqlite';

/**
 * Crash at every request: a workload of mixed transactions runs once per request
 * index N with the store failing at N, in one of two ways:
 *
 * - `crash`: request N and every later one fail (the process died; nothing in it can
 *   repair anything);
 * - `fail-after`: request N happens, but its answer is lost (a timeout after the fact),
 *   and later requests work.
 *
 * After each run the connection is abandoned and the same objects are opened as
 * another process would (a new store object, no faults): integrity_check must be ok
 * and the rows exactly those after the acknowledged transactions, or after those plus
 * the one in flight (all or nothing). Then that process commits once more, and must.
 */

export type CrashMode = 'crash' | 'fail-after';

export interface CrashTarget {
  /** A store holding nothing under the workload's name, and a second object over the same objects (another process). */
  create(): Promise<{ store: BlockStore; reopen(): BlockStore; dispose(): Promise<void> }>;
}

export interface CrashOptions {
  layout?: Layout;
  modes?: readonly CrashMode[];
  /** The request indexes to try, given how many the workload makes (default: every one). */
  sample?: (requests: number) => number[];
  /** Called after each index tried (progress for long runs). */
  onCase?: (mode: CrashMode, n: number, requests: number) => void;
}

export interface CrashReport {
  /** Requests of the fault-free workload. */
  requests: number;
  /** Indexes tried, per mode. */
  tried: Record<CrashMode, number>;
  /** Of those, how many reached the caller as an error (the rest were absorbed: a read-back proved the commit). */
  surfaced: Record<CrashMode, number>;
}

const NAME = 'crash.db';

/** Each step is one transaction (or a checkpoint), on one connection. */
const STEPS: Array<(db: Database) => Promise<unknown>> = [
  // The first commit of an empty database: SQLite writes through its journal, not batch-atomic.
  (db) => db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')"),
  (db) => db.run("INSERT INTO t (id, v) VALUES (10, 'ten')"), // one small commit: inline
  // Larger than the inline limit and the page cache: block objects, SQLite spilling mid-transaction.
  (db) =>
    db.transaction(async () => {
      for (let i = 0; i < 60; i++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [100 + i, `${'x'.repeat(3000)}${i}`]);
    }),
  // A savepoint rolled back inside a committed transaction.
  (db) =>
    db.transaction(async () => {
      await db.run("UPDATE t SET v = v || '!' WHERE id <= 2");
      await db
        .transaction(async () => {
          await db.run('DELETE FROM t');
          throw new Error('undo the savepoint');
        })
        .catch(() => undefined);
      await db.run("INSERT INTO t (id, v) VALUES (11, 'eleven')");
    }),
  (db) => db.checkpoint(),
  (db) => db.run('DELETE FROM t WHERE id >= 120'),
  (db) => db.exec('VACUUM'), // shrinks the file: blocks past the new end are dropped
  (db) => db.run("INSERT INTO t (id, v) VALUES (12, 'twelve')"),
];

async function open(store: BlockStore, layout: Layout): Promise<Database> {
  // 4 KiB blocks, not the 64 KiB default: the workload's few hundred KB then span dozens of
  // block objects, so its commits upload several blocks in parallel, and there are enough
  // requests to crash at for every kind (block PUT, record, checkpoint, head) to be hit.
  const db = await openDatabase({ store, name: NAME, layout, blockSize: 4096 });
  await db.exec('PRAGMA cache_size = 20');
  return db;
}

async function rows(db: Database): Promise<Row[]> {
  const exists = await db.get("SELECT 1 AS x FROM sqlite_schema WHERE name = 't'");
  return exists ? db.all('SELECT id, v FROM t ORDER BY id') : [];
}

/** Runs the workload over `store`, stopping at the first error. */
async function workload(store: BlockStore, layout: Layout): Promise<{ acknowledged: number; error: unknown; db: Database | undefined }> {
  let acknowledged = 0;
  let db: Database | undefined;
  try {
    db = await open(store, layout);
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

export async function crashAtEveryRequest(target: CrashTarget, options: CrashOptions = {}): Promise<CrashReport> {
  const layout = options.layout ?? 'atomic';
  const modes = options.modes ?? ['crash', 'fail-after'];

  // The rows after each number of acknowledged steps, and the workload's request count, from a fault-free run.
  const snapshots: Row[][] = [];
  let requests = 0;
  {
    const { store, dispose } = await target.create();
    try {
      const counted = withFaults(store, { at: [] });
      const outcome = await workload(counted, layout);
      if (outcome.error) throw outcome.error;
      requests = counted.faults.requests;
      const replay = await target.create();
      try {
        const db = await open(replay.store, layout);
        snapshots.push(await rows(db));
        for (const step of STEPS) {
          await step(db);
          snapshots.push(await rows(db));
        }
        await db.close();
      } finally {
        await replay.dispose();
      }
    } finally {
      await dispose();
    }
  }

  const indexes = options.sample ? options.sample(requests) : Array.from({ length: requests }, (_, i) => i + 1);
  const report: CrashReport = { requests, tried: { crash: 0, 'fail-after': 0 }, surfaced: { crash: 0, 'fail-after': 0 } };
  for (const mode of modes) {
    for (const n of indexes) {
      const { store, reopen, dispose } = await target.create();
      try {
        const faulty =
          mode === 'crash'
            ? withFaults(store, { at: Array.from({ length: 10_000 }, (_, i) => n + i), mode: 'fail' })
            : withFaults(store, { at: n, mode: 'fail-after' });
        const outcome = await workload(faulty, layout);
        const where = `${mode} at request ${n} of ${requests}`;
        assert.ok(faulty.faults.injected >= 1, `${where}: the fault was injected`);
        if (outcome.error !== undefined) {
          report.surfaced[mode] += 1;
          const error = outcome.error as Error;
          assert.match(error.message, /injected fault/, `${where}: the error names the store failure`);
          assert.ok(
            isBlockVfsError(error.cause, 'transient') || isBlockVfsError(error, 'transient'),
            `${where}: the store's error is kept (${String(error.cause)})`,
          );
        } else {
          assert.equal(outcome.acknowledged, STEPS.length, `${where}: no error, so every step was acknowledged`);
        }

        // Another process opens the same objects.
        const other = reopen();
        const db = await open(other, layout);
        try {
          assert.deepEqual(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' }, `${where}: integrity`);
          const found = await rows(db);
          const k = outcome.acknowledged;
          const allowed = [snapshots[k]];
          if (k < STEPS.length) allowed.push(snapshots[k + 1]); // the transaction in flight: all or nothing
          assert.ok(
            allowed.some((state) => JSON.stringify(state) === JSON.stringify(found)),
            `${where}: ${k} acknowledged, found ids ${JSON.stringify(found.map((r) => r.id))}`,
          );
          // And it carries on: the database takes a new commit.
          if (found.length > 0) {
            await db.run("INSERT INTO t (id, v) VALUES (999999, 'after the crash')");
            assert.deepEqual(await db.get('SELECT v FROM t WHERE id = 999999'), { v: 'after the crash' });
          }
        } finally {
          await db.close();
          await outcome.db?.close().catch(() => undefined);
        }
        report.tried[mode] += 1;
        options.onCase?.(mode, n, requests);
      } finally {
        await dispose();
      }
    }
  }
  return report;
}
