import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { afterAll, describe, expect, it } from 'vitest';
import type { GcsStore } from '../src/index.js';
import { createStorage, emptyStore, freshStore, target } from './gcs-target.js';

const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'OFF'] as const;
/** Block = page (the sqlite-s3vfs shape), and a small page in blocks that are not a power of two. */
const SHAPES = [
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 512, blockSize: 1000 },
] as const;
const ROWS = 300;

/** Deterministic text of a row, long enough that the table spans many pages at either size. */
const rowText = (i: number, version: number) => `row ${i} v${version} `.padEnd(40 + (i % 37), String.fromCharCode(97 + ((i + version) % 26)));

describe(`SQL on GcsStore (${target.target})`, () => {
  const storage = createStorage();
  const stores: GcsStore[] = [];
  afterAll(async () => {
    for (const store of stores) await emptyStore(store);
  });

  for (const { pageSize, blockSize } of SHAPES) {
    describe(`page ${pageSize}, block ${blockSize}`, () => {
      for (const mode of JOURNAL_MODES) {
        it(`journal_mode=${mode}: create, insert, update, close, reopen: same rows, integrity ok`, async () => {
          const store = freshStore(storage, `sql-${mode}-${pageSize}`);
          stores.push(store);
          const name = 'matrix.db';
          const db = await openDatabase({ store, name, pageSize, blockSize });
          expect(await db.get('PRAGMA journal_mode = ' + mode)).toEqual({ journal_mode: mode.toLowerCase() });
          await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t (v)');
          await db.transaction(async () => {
            for (let i = 0; i < ROWS; i++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [i, rowText(i, 0)]);
          });
          // Updates in several small transactions: each commit rewrites some blocks in place.
          for (let i = 0; i < ROWS; i += 7) await db.run('UPDATE t SET v = ? WHERE id = ?', [rowText(i, 1), i]);
          await db.run('DELETE FROM t WHERE id % 50 = 3');
          await db.close();

          const expected = Array.from({ length: ROWS }, (_, i) => i)
            .filter((i) => i % 50 !== 3)
            .map((i) => ({ id: i, v: rowText(i, i % 7 === 0 ? 1 : 0) }));
          const reopened = await openDatabase({ store, name, blockSize });
          expect(await reopened.get('PRAGMA page_size')).toEqual({ page_size: pageSize });
          expect(await reopened.all('SELECT id, v FROM t ORDER BY id')).toEqual(expected);
          expect(await reopened.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
          await reopened.close();

          // In the bucket: the database's blocks, all of blockSize but the last, and no journal
          // left in the modes that remove it (PERSIST and TRUNCATE keep one, by design).
          const sizes = new Map<string, number>();
          for await (const entry of store.list('')) sizes.set(entry.key, entry.size);
          const blocks = [...sizes].filter(([key]) => key.startsWith(`${name}/`));
          expect(blocks.length).toBeGreaterThan(3);
          expect(blocks.slice(0, -1).every(([, size]) => size === blockSize)).toBe(true);
          const journal = [...sizes.keys()].filter((key) => key.startsWith(`${name}-journal/`));
          if (mode === 'DELETE' || mode === 'MEMORY' || mode === 'OFF') expect(journal).toEqual([]);
        });
      }
    });
  }
});
