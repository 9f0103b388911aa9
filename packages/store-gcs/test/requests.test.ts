import { randomBytes } from 'node:crypto';
import { withMetrics, type MeteredStore, type StoreMetrics } from '@blockvfs/core';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GcsStore } from '../src/index.js';
import { createStorage, emptyStore, freshStore, target } from './gcs-target.js';

/**
 * Requests per operation (counted with withMetrics, which counts store calls; with no
 * faults, each is one GCS request, a `delete` of n keys being n requests): DELETE
 * journal mode, 4096-byte pages and blocks, a table of 10,000 rows of 100 random
 * characters. Counts are exact and do not depend on timing, so the bounds below catch
 * a change that adds round trips.
 */
const ROWS = 10_000;
const PAGE = 4096;

type Counts = Pick<StoreMetrics, 'get' | 'put' | 'delete' | 'list'> & { bytesRead: number; bytesWritten: number };

async function measure(store: MeteredStore, run: () => Promise<void>): Promise<Counts> {
  store.resetMetrics();
  await run();
  const { get, put, delete: del, list, bytesRead, bytesWritten } = store.metrics;
  return { get, put, delete: del, list, bytesRead, bytesWritten };
}

describe(`GcsStore request counts (${target.target})`, () => {
  let gcs: GcsStore;
  let store: MeteredStore;
  const name = 'counts.db';
  const open = () => openDatabase({ store, name, pageSize: PAGE, blockSize: PAGE });

  beforeAll(async () => {
    gcs = freshStore(createStorage(), 'counts');
    store = withMetrics(gcs);
    const db = await open();
    await db.exec('PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    await db.transaction(async () => {
      for (let i = 1; i <= ROWS; i++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [i, randomBytes(75).toString('base64')]);
    });
    await db.close();
  }, 300_000);
  afterAll(async () => {
    await emptyStore(gcs);
  });

  it('open, one single-row commit, 1,000 cold point queries, a full scan', async () => {
    let db: Database | undefined;
    const opening = await measure(store, async () => {
      db = await open();
    });
    const commit = await measure(store, async () => {
      await db?.run('INSERT INTO t (v) VALUES (?)', [randomBytes(75).toString('base64')]);
    });
    await db?.close();

    db = await open(); // cold: a new connection, an empty page cache
    const ids = Array.from({ length: 1000 }, () => 1 + Math.floor(Math.random() * ROWS));
    const points = await measure(store, async () => {
      for (const id of ids) expect(await db?.get('SELECT length(v) AS n FROM t WHERE id = ?', [id])).toEqual({ n: 100 });
    });
    await db.close();

    db = await open();
    const scan = await measure(store, async () => {
      expect(await db?.get('SELECT count(*) AS n, sum(length(v)) AS len FROM t')).toEqual({ n: ROWS + 1, len: (ROWS + 1) * 100 });
    });
    await db.close();

    let blocks = 0;
    for await (const entry of store.list(`${name}/`)) blocks += entry.size > 0 ? 1 : 0;
    console.log(`request counts on GCS (${target.target}), ${blocks} blocks of ${PAGE} bytes:`);
    console.table({ open: opening, 'single-row commit': commit, '1000 cold point queries': points, 'full scan': scan });

    // No listing on the hot path, and reads bounded by the blocks there are. Each point
    // query is its own read transaction, and SQLite starts each by re-reading page 1 (the
    // change counter tells it whether its page cache is still good): one GET per query.
    for (const counts of [commit, points, scan]) expect(counts.list).toBe(0);
    expect(points.get).toBeLessThanOrEqual(blocks + ids.length);
    expect(scan.get).toBeLessThanOrEqual(blocks + 2);
    expect(points.put + scan.put).toBe(0);
  });
});
