// Store requests per operation, counted with withMetrics, on the stores that need no
// server: DELETE journal mode, 4096-byte pages and blocks, a table of 10,000 rows of
// 100 random characters. (The cloud stores measure the same workload in their
// requests.test.ts against their servers.)
//
//   pnpm bench:requests
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withMetrics, type BlockStore, type MeteredStore } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

const ROWS = 10_000;
const PAGE = 4096;

async function measure(store: MeteredStore, work: () => Promise<unknown>): Promise<string> {
  store.resetMetrics();
  await work();
  const { get, put, delete: del, list } = store.metrics;
  return `${get} GET, ${put} PUT, ${del} DELETE, ${list} LIST`;
}

async function workload(label: string, inner: BlockStore): Promise<void> {
  const store = withMetrics(inner);
  const open = () => openDatabase({ store, name: 'counts.db', pageSize: PAGE, blockSize: PAGE });
  let db: Database = await open();
  await db.exec('PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  await db.transaction(async () => {
    for (let i = 1; i <= ROWS; i++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [i, randomBytes(75).toString('base64')]);
  });
  await db.close();

  const rows: Record<string, string> = {};
  rows.open = await measure(store, async () => (db = await open()));
  rows['one single-row commit'] = await measure(store, () => db.run('INSERT INTO t (v) VALUES (?)', ['x'.repeat(100)]));
  await db.close();
  db = await open();
  rows['1,000 cold point queries'] = await measure(store, async () => {
    for (let i = 0; i < 1000; i++) await db.get('SELECT v FROM t WHERE id = ?', [1 + Math.floor(Math.random() * ROWS)]);
  });
  await db.close();
  db = await open();
  rows['full scan (count, sum(length))'] = await measure(store, () => db.get('SELECT count(*), sum(length(v)) FROM t'));
  await db.close();
  console.log(`\n${label}`);
  for (const [step, counts] of Object.entries(rows)) console.log(`  ${step.padEnd(32)} ${counts}`);
}

await workload('memory store', new MemoryStore());
const root = await mkdtemp(join(tmpdir(), 'blockvfs-bench-'));
try {
  await workload('fs store', new FsStore({ root }));
} finally {
  await rm(root, { recursive: true, force: true });
}
