import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { BlockStore, Layout } from '@blockvfs/core';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

export const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'OFF'] as const;
export type JournalMode = (typeof JOURNAL_MODES)[number];
export const LAYOUTS: readonly Layout[] = ['atomic', 'direct'];

export interface SqlMatrixCase {
  layout: Layout;
  pageSize: number;
  blockSize: number;
  mode: JournalMode;
}

/**
 * The subset of the matrix every cloud store runs: both layouts × every rollback journal
 * mode × block = page (the sqlite-s3vfs shape), and a small page in blocks that are not a
 * multiple of it.
 */
export const CLOUD_MATRIX_CASES: readonly SqlMatrixCase[] = LAYOUTS.flatMap((layout) =>
  [
    { pageSize: 4096, blockSize: 4096 },
    { pageSize: 512, blockSize: 1000 },
  ].flatMap((shape) => JOURNAL_MODES.map((mode) => ({ layout, ...shape, mode }))),
);

/** SQLite page cache during the case, in pages: small, so that the big transaction spills. */
const CACHE_PAGES = 10;

interface Row {
  grp: number;
  data: Uint8Array;
}

/** Deterministic bytes for row `id`, `length` long. */
export function payload(id: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (id * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/**
 * One case of the SQL matrix on a store that holds nothing under `name`: several
 * small transactions, one large enough to spill SQLite's page cache mid-transaction
 * and grow the file over many blocks, one rolled back, updates and deletes; then a
 * reopen that must give the same rows and pass integrity_check, and a look at the
 * store's keys, which must be the layout's and nothing else (no journal left on the
 * store, except the one the direct layout keeps in PERSIST mode).
 */
export async function runSqlMatrixCase(store: BlockStore, { layout, pageSize, blockSize, mode }: SqlMatrixCase, name = 'matrix.db'): Promise<void> {
  const expected = new Map<number, Row>();
  const db = await openDatabase({ store, name, pageSize, blockSize, layout });
  assert.deepEqual(await db.get(`PRAGMA journal_mode = ${mode}`), { journal_mode: mode.toLowerCase() });
  await db.exec(`PRAGMA cache_size = ${CACHE_PAGES}; CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, data BLOB NOT NULL)`);
  const noJournal = async (): Promise<void> => {
    if (mode === 'PERSIST' && layout === 'direct') return;
    assert.deepEqual(await keys(store, `${name}-journal`), [], 'no journal on the store');
  };
  await noJournal();

  const insert = async (id: number, length: number): Promise<Row> => {
    const row = { grp: id % 7, data: payload(id, length) };
    await db.run('INSERT INTO t (id, grp, data) VALUES (?, ?, ?)', [id, row.grp, row.data]);
    return row;
  };

  // A few small transactions.
  for (let batch = 0; batch < 3; batch++) {
    const rows = await db.transaction(async () => {
      const added: Array<[number, Row]> = [];
      for (let i = 0; i < 4; i++) {
        const id = batch * 4 + i + 1;
        added.push([id, await insert(id, 40 + id)]);
      }
      return added;
    });
    for (const [id, row] of rows) expected.set(id, row);
    await noJournal();
  }

  // One that spills the page cache: ~3 × CACHE_PAGES pages of rows.
  const big = Math.floor(pageSize / 3);
  const bigRows = await db.transaction(async () => {
    const added: Array<[number, Row]> = [];
    for (let id = 100; id < 100 + 3 * 3 * CACHE_PAGES; id++) added.push([id, await insert(id, big)]);
    return added;
  });
  for (const [id, row] of bigRows) expected.set(id, row);
  await noJournal();
  const pagesAfterBig = Number((await db.get('PRAGMA page_count'))?.page_count);
  assert.ok(pagesAfterBig > 3 * CACHE_PAGES, `the big transaction grew the file to ${pagesAfterBig} pages`);

  // One rolled back (OFF has no rollback journal: ROLLBACK is undefined there).
  if (mode !== 'OFF') {
    await assert.rejects(
      db.transaction(async () => {
        await insert(1000, big);
        await db.run('UPDATE t SET grp = -1');
        await db.run('DELETE FROM t WHERE id >= 100');
        throw new Error('roll me back');
      }),
      /roll me back/,
    );
  }

  // Updates and deletes, in autocommit mode.
  await db.run('UPDATE t SET grp = grp + 100 WHERE id % 3 = 0');
  for (const [id, row] of expected) if (id % 3 === 0) row.grp += 100;
  const deleted = await db.run('DELETE FROM t WHERE id % 5 = 0');
  const before = expected.size;
  for (const id of [...expected.keys()]) if (id % 5 === 0) expected.delete(id);
  assert.equal(deleted.changes, before - expected.size);
  await noJournal();

  await expectRows(db, expected);
  const pageCount = Number((await db.get('PRAGMA page_count'))?.page_count);
  await db.close();

  const objects = await listObjects(store);
  const main = objects.filter((o) => o.key.startsWith(`${name}/`));
  const journal = objects.filter((o) => o.key.startsWith(`${name}-journal/`));
  assert.equal(objects.length, main.length + journal.length, 'nothing on the store but the database (and its journal)');
  if (layout === 'direct') {
    // The database's blocks, each whole but the last (and PERSIST's kept journal).
    const fileSize = pageCount * pageSize;
    const blocks = Math.ceil(fileSize / blockSize);
    assert.deepEqual(
      main.map((o) => o.key),
      Array.from({ length: blocks }, (_, i) => `${name}/${String(i).padStart(10, '0')}`),
    );
    assert.deepEqual(
      main.map((o) => o.size),
      Array.from({ length: blocks }, (_, i) => Math.min(blockSize, fileSize - i * blockSize)),
    );
    if (mode !== 'PERSIST') assert.deepEqual(journal, []);
  } else {
    // Block objects, commit records, perhaps checkpoints and the head; the journal never leaves memory.
    const shape = /^(blocks\/\d{10}\.\d{12}\.[0-9a-f]{16}|log\/\d{12}|checkpoint\/\d{12}|head)$/;
    for (const { key } of main) assert.match(key.slice(name.length + 1), shape, `atomic-layout key ${key}`);
    assert.deepEqual(journal, []);
  }

  const reopened = await openDatabase({ store, name, pageSize, blockSize, layout });
  try {
    assert.deepEqual(await reopened.get('PRAGMA page_size'), { page_size: pageSize });
    assert.deepEqual(await reopened.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    await expectRows(reopened, expected);
  } finally {
    await reopened.close();
  }
}

async function expectRows(db: Database, expected: Map<number, Row>): Promise<void> {
  // Blobs compared by digest: deep equality of megabytes of bytes is slow, and its diff helps nobody.
  const rows = (await db.all('SELECT id, grp, data FROM t ORDER BY id')).map(({ id, grp, data }) => ({ id, grp, data: digest(data) }));
  const want = [...expected.entries()].sort(([a], [b]) => a - b).map(([id, row]) => ({ id, grp: row.grp, data: digest(row.data) }));
  assert.equal(rows.length, want.length, 'row count');
  assert.deepEqual(rows, want);
}

function digest(value: unknown): string {
  if (!(value instanceof Uint8Array)) return `not a blob: ${typeof value}`;
  return `${value.length}:${createHash('sha1').update(value).digest('hex')}`;
}

/** Every key on `store` under `prefix` (with its size), in order. */
export async function listObjects(store: BlockStore, prefix = ''): Promise<Array<{ key: string; size: number }>> {
  const objects: Array<{ key: string; size: number }> = [];
  for await (const entry of store.list(prefix)) objects.push({ key: entry.key, size: entry.size });
  return objects;
}

async function keys(store: BlockStore, prefix: string): Promise<string[]> {
  return (await listObjects(store, prefix)).map((o) => o.key);
}
