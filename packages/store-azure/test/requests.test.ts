import { randomBytes } from 'node:crypto';
import { withMetrics, type StoreMetrics } from '@blockvfs/core';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { createTestContainer, deleteTestContainer } from './azure-fixture.js';

/**
 * Store requests (counted by core's withMetrics) for the project's reference workload
 * on Azure: DELETE journal, 4096-byte pages and blocks, a table of 10,000 rows of 100
 * random characters. The counts are printed for the record and bounded by what the
 * VFS should need, so that a store or VFS change that adds requests fails here.
 */
const ROWS = 10_000;
const PAGE = 4096;

let container: ContainerClient;
beforeAll(async () => {
  container = await createTestContainer('requests');
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

const pick = ({ get, put, delete: del, list }: Readonly<StoreMetrics>) => ({ get, put, delete: del, list });

test('requests to open, commit one row, run 1,000 cold point queries and a full scan', async () => {
  const raw = new AzureBlobStore({ container });
  const setup = await openDatabase({ store: raw, name: 'ref.db', pageSize: PAGE, blockSize: PAGE });
  await setup.exec('PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const random = randomBytes(ROWS * 100);
  await setup.transaction(async () => {
    for (let id = 1; id <= ROWS; id++) {
      let v = '';
      for (let i = 0; i < 100; i++) v += alphabet[(random[(id - 1) * 100 + i] as number) % alphabet.length];
      await setup.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, v]);
    }
  });
  const pages = Number((await setup.get('PRAGMA page_count'))?.page_count);
  await setup.close();

  const store = withMetrics(new AzureBlobStore({ container }));
  const opened = await openDatabase({ store, name: 'ref.db', pageSize: PAGE, blockSize: PAGE });
  const open = pick(store.metrics);

  store.resetMetrics();
  await opened.exec('PRAGMA journal_mode = DELETE');
  await opened.run('INSERT INTO t (v) VALUES (?)', ['warm-up']);
  store.resetMetrics();
  await opened.run('INSERT INTO t (v) VALUES (?)', ['one row']);
  const commit = pick(store.metrics);
  await opened.close();

  const cold = await openDatabase({ store, name: 'ref.db', pageSize: PAGE, blockSize: PAGE });
  store.resetMetrics();
  for (let i = 0; i < 1000; i++) {
    const id = 1 + ((i * 7919) % ROWS);
    expect(await cold.get('SELECT length(v) AS n FROM t WHERE id = ?', [id])).toEqual({ n: 100 });
  }
  const points = pick(store.metrics);
  await cold.close();

  const scanner = await openDatabase({ store, name: 'ref.db', pageSize: PAGE, blockSize: PAGE });
  store.resetMetrics();
  expect(await scanner.get('SELECT count(*) AS n, sum(length(v)) AS bytes FROM t')).toEqual({ n: ROWS + 2, bytes: ROWS * 100 + 7 + 7 });
  const scan = pick(store.metrics);
  await scanner.close();

  console.log(JSON.stringify({ store: 'azure (Azurite)', pages, open, commit, points, scan }));
  expect(open.list).toBeLessThanOrEqual(1);
  expect(open.get + open.list).toBeLessThanOrEqual(4);
  // The same requests as on any store (see vfs-wasqlite's requests test): nothing Azure-specific added.
  expect(commit).toEqual({ get: 0, put: 6, delete: 1, list: 0 });
  // Each query's read transaction re-reads block 0 (the change counter: has another process
  // written?); beyond that each block is read at most once (SQLite's page cache keeps it).
  expect(points.get).toBeLessThanOrEqual(1000 + pages);
  expect(points.put + points.delete + points.list).toBe(0);
  // A scan reads every page at most once.
  expect(scan.get).toBeLessThanOrEqual(pages + 2);
  expect(scan.get).toBeGreaterThan(pages / 2);
});
