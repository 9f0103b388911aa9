import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import { payload, storeFactories, storeObjects } from './helpers.js';

/**
 * The SQL matrix: page sizes × block sizes (equal, half, four times, and one that
 * neither divides nor is a multiple of the page size) × the five rollback journal
 * modes, on every store. Each case writes through several transactions (one large
 * enough to spill SQLite's page cache mid-transaction and grow the file over many
 * blocks, one rolled back), reopens, and checks rows, integrity and the store's keys.
 */

const PAGE_SIZES = [512, 4096, 65536];
const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'OFF'] as const;
type JournalMode = (typeof JOURNAL_MODES)[number];

function blockSizes(pageSize: number): Array<[string, number]> {
  return [
    ['= page', pageSize],
    ['page/2', pageSize / 2],
    ['page*4', pageSize * 4],
    ['page*3/2+1', (pageSize * 3) / 2 + 1],
  ];
}

const cases = PAGE_SIZES.flatMap((pageSize) =>
  blockSizes(pageSize).flatMap(([label, blockSize]) => JOURNAL_MODES.map((mode) => ({ pageSize, blockSize, label, mode }))),
);

/** SQLite page cache for the test, in pages: small, so that the big transaction spills. */
const CACHE_PAGES = 10;

interface Expected {
  grp: number;
  data: Uint8Array;
}

const factories = await storeFactories();

describe.each(factories)('SQL matrix on $label store', (factory) => {
  test.each(cases)('page $pageSize, block $blockSize ($label), journal $mode', async ({ pageSize, blockSize, mode }) => {
    const { store, dispose } = await factory.create();
    try {
      const name = 'matrix.db';
      const expected = new Map<number, Expected>();
      const db = await openDatabase({ store, name, pageSize, blockSize });
      expect(await db.get('PRAGMA journal_mode = ' + mode)).toEqual({ journal_mode: mode.toLowerCase() });
      await db.exec(`PRAGMA cache_size = ${CACHE_PAGES}; CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, data BLOB NOT NULL)`);
      await expectNoJournalObjects(mode);

      const insert = async (id: number, length: number) => {
        const row = { grp: id % 7, data: payload(id, length) };
        await db.run('INSERT INTO t (id, grp, data) VALUES (?, ?, ?)', [id, row.grp, row.data]);
        return row;
      };

      // A few small transactions.
      for (let batch = 0; batch < 3; batch++) {
        const rows = await db.transaction(async () => {
          const added: Array<[number, Expected]> = [];
          for (let i = 0; i < 4; i++) {
            const id = batch * 4 + i + 1;
            added.push([id, await insert(id, 40 + id)]);
          }
          return added;
        });
        for (const [id, row] of rows) expected.set(id, row);
        await expectNoJournalObjects(mode);
      }

      // One that spills the page cache: ~3 × CACHE_PAGES pages of rows.
      const big = Math.floor(pageSize / 3);
      const bigRows = await db.transaction(async () => {
        const added: Array<[number, Expected]> = [];
        for (let id = 100; id < 100 + 3 * 3 * CACHE_PAGES; id++) added.push([id, await insert(id, big)]);
        return added;
      });
      for (const [id, row] of bigRows) expected.set(id, row);
      await expectNoJournalObjects(mode);
      const pagesAfterBig = Number((await db.get('PRAGMA page_count'))?.page_count);
      expect(pagesAfterBig * pageSize).toBeGreaterThan(3 * CACHE_PAGES * pageSize);

      // One rolled back (OFF has no rollback journal: ROLLBACK is undefined there).
      if (mode !== 'OFF') {
        await expect(
          db.transaction(async () => {
            await insert(1000, big);
            await db.run('UPDATE t SET grp = -1');
            await db.run('DELETE FROM t WHERE id >= 100');
            throw new Error('roll me back');
          }),
        ).rejects.toThrow('roll me back');
      }

      // Updates and deletes, in autocommit mode.
      await db.run('UPDATE t SET grp = grp + 100 WHERE id % 3 = 0');
      for (const [id, row] of expected) if (id % 3 === 0) row.grp += 100;
      const deleted = await db.run('DELETE FROM t WHERE id % 5 = 0');
      const before = expected.size;
      for (const id of [...expected.keys()]) if (id % 5 === 0) expected.delete(id);
      expect(deleted.changes).toBe(before - expected.size);
      await expectNoJournalObjects(mode);

      await expectRows(db, expected);
      const pageCount = Number((await db.get('PRAGMA page_count'))?.page_count);
      await db.close();

      // The store holds the database's blocks (and PERSIST's kept journal), nothing else.
      const objects = await storeObjects(store);
      const main = objects.filter((o) => o.key.startsWith(`${name}/`));
      const journal = objects.filter((o) => o.key.startsWith(`${name}-journal/`));
      expect(objects.length).toBe(main.length + journal.length);
      const fileSize = pageCount * pageSize;
      const blocks = Math.ceil(fileSize / blockSize);
      expect(main.map((o) => o.key)).toEqual(Array.from({ length: blocks }, (_, i) => `${name}/${String(i).padStart(10, '0')}`));
      expect(main.map((o) => o.size)).toEqual(Array.from({ length: blocks }, (_, i) => Math.min(blockSize, fileSize - i * blockSize)));
      if (mode !== 'PERSIST') expect(journal).toEqual([]);

      const reopened = await openDatabase({ store, name, pageSize, blockSize });
      expect(await reopened.get('PRAGMA page_size')).toEqual({ page_size: pageSize });
      expect(await reopened.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      await expectRows(reopened, expected);
      await reopened.close();

      async function expectNoJournalObjects(journalMode: JournalMode): Promise<void> {
        if (journalMode === 'PERSIST') return;
        expect(await storeObjects(store, `${name}-journal`)).toEqual([]);
      }
    } finally {
      await dispose();
    }
  });
});

async function expectRows(db: Database, expected: Map<number, Expected>): Promise<void> {
  // Blobs compared by digest: deep equality of megabytes of Uint8Array is slow in expect().
  const rows = (await db.all('SELECT id, grp, data FROM t ORDER BY id')).map(({ id, grp, data }) => ({ id, grp, data: digest(data) }));
  const want = [...expected.entries()].sort(([a], [b]) => a - b).map(([id, row]) => ({ id, grp: row.grp, data: digest(row.data) }));
  expect(rows.length).toBe(want.length);
  expect(rows).toEqual(want);
}

function digest(value: unknown): string {
  if (!(value instanceof Uint8Array)) return `not a blob: ${typeof value}`;
  return `${value.length}:${createHash('sha1').update(value).digest('hex')}`;
}
