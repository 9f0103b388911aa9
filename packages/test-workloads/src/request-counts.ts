import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withMetrics, type BlockStore, type Layout, type MeteredStore, type StoreMetrics } from '@blockvfs/core';
import { openDatabase, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';

export type Counts = Pick<StoreMetrics, 'get' | 'put' | 'delete' | 'list' | 'bytesRead' | 'bytesWritten'>;

export interface RequestCountReport {
  layout: Layout;
  /** Blocks of the database. */
  blocks: number;
  /** Opening the database (a new connection). */
  open: Counts;
  /** One single-row INSERT in autocommit mode, on a warm connection (after one commit on it). */
  commit: Counts;
  /** 1,000 point queries by random id, each its own read transaction, on a new connection. */
  points: Counts;
  /** `SELECT count(*), sum(length(v))` on a new connection. */
  scan: Counts;
}

export interface RequestCountOptions {
  layout: Layout;
  /** Rows of 100 random characters (default 10,000). */
  rows?: number;
  pageSize?: number;
  name?: string;
  /** More options for every connection (a lease, freshness…). */
  database?: Partial<OpenDatabaseOptions>;
}

/**
 * The store requests (counted with withMetrics: store calls, each one request with no
 * retries) of the four operations every store reports: open, a single-row commit,
 * 1,000 cold point queries, a full scan. DELETE journal mode, block = page.
 */
export async function countRequests(store: BlockStore, options: RequestCountOptions): Promise<RequestCountReport> {
  const { layout } = options;
  const rows = options.rows ?? 10_000;
  const pageSize = options.pageSize ?? 4096;
  const name = options.name ?? 'counts.db';
  const metered = withMetrics(store);
  const open = (on: BlockStore = metered): Promise<Database> => openDatabase({ store: on, name, pageSize, blockSize: pageSize, layout, ...options.database });

  const setup = await open(store);
  await setup.exec('PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  await setup.transaction(async () => {
    for (let id = 1; id <= rows; id++) await setup.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, randomBytes(75).toString('base64')]);
  });
  const pages = Number((await setup.get('PRAGMA page_count'))?.page_count);
  await setup.close();

  let db!: Database;
  const opening = await measure(metered, async () => {
    db = await open();
  });
  await db.exec('PRAGMA journal_mode = DELETE');
  await db.run('INSERT INTO t (v) VALUES (?)', [randomBytes(75).toString('base64')]);
  const commit = await measure(metered, () => db.run('INSERT INTO t (v) VALUES (?)', [randomBytes(75).toString('base64')]));
  await db.close();

  db = await open();
  const ids = Array.from({ length: 1000 }, () => 1 + Math.floor(Math.random() * rows));
  const points = await measure(metered, async () => {
    for (const id of ids) {
      const row = await db.get<{ n: number }>('SELECT length(v) AS n FROM t WHERE id = ?', [id]);
      if (row?.n !== 100) throw new Error(`point query for id ${id} gave ${JSON.stringify(row)}`);
    }
  });
  await db.close();

  db = await open();
  const scan = await measure(metered, async () => {
    const row = await db.get<{ n: number; len: number }>('SELECT count(*) AS n, sum(length(v)) AS len FROM t');
    if (row?.n !== rows + 2 || row.len !== (rows + 2) * 100) throw new Error(`the scan gave ${JSON.stringify(row)}`);
  });
  await db.close();
  return { layout, blocks: pages, open: opening, commit, points, scan };
}

async function measure(store: MeteredStore, run: () => Promise<unknown>): Promise<Counts> {
  store.resetMetrics();
  await run();
  const { get, put, delete: del, list, bytesRead, bytesWritten } = store.metrics;
  return { get, put, delete: del, list, bytesRead, bytesWritten };
}

/** The report as one table row per operation, for console.table. */
export function countTable(report: RequestCountReport): Record<string, Counts> {
  return { open: report.open, 'single-row commit': report.commit, '1000 cold point queries': report.points, 'full scan': report.scan };
}

/**
 * The bounds every store must keep (the requests are the VFS's and the layout's, not
 * the store's): no LIST on the hot path, reads bounded by the blocks there are, and the
 * layout's cost of a single-row commit. Each point query is its own read transaction,
 * which may cost one GET besides the blocks (direct: SQLite re-reads page 1, the change
 * counter; atomic: the look for other writers' commits).
 */
export function checkRequestBounds(report: RequestCountReport): void {
  const { layout, blocks, open, commit, points, scan } = report;
  for (const counts of [commit, points, scan]) assert.equal(counts.list, 0, `${layout}: no LIST on the hot path`);
  assert.ok(points.get <= blocks + 1000, `${layout}: ${points.get} GETs for 1000 point queries over ${blocks} blocks`);
  assert.ok(scan.get <= blocks + 2, `${layout}: ${scan.get} GETs for a scan of ${blocks} blocks`);
  assert.equal(points.put + points.delete + scan.put + scan.delete, 0, `${layout}: reads write nothing`);
  if (layout === 'atomic') {
    assert.equal(open.list, 1, 'atomic: opening lists once (past the end of the log: a gap is damage, not the end)');
    // One GET (other writers' commits?), one PUT (the record, the changed pages inline).
    assert.deepEqual({ get: commit.get, put: commit.put, delete: commit.delete }, { get: 1, put: 1, delete: 0 }, 'atomic: a single-row commit');
  } else {
    assert.ok(open.list <= 1, 'direct: opening lists the file once');
    // 3 journal blocks, the journal header again, 2 pages; the journal deleted (one request, or one per block on GCS).
    assert.equal(commit.put, 6, 'direct: a single-row commit');
  }
}
