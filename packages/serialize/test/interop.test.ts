import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { serialize } from '@blockvfs/serialize';
import { shell, shellRows } from './helpers.js';

/** A database written through our VFS, exported with serialize, is a file the real sqlite3 shell reads. */

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-serialize-interop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const QUERIES = [
  'SELECT id, name, hex(photo) AS photo, score FROM people ORDER BY id',
  'SELECT team, count(*) AS n FROM people INDEXED BY people_by_team GROUP BY team ORDER BY team',
  'SELECT key, value FROM settings ORDER BY key',
];

describe.each([
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 1024, blockSize: 3000 },
  { pageSize: 65536, blockSize: 65536 },
])('written with openDatabase (page size $pageSize, block size $blockSize)', ({ pageSize, blockSize }) => {
  it('serialises to a file that the sqlite3 shell reads, with the same rows and integrity_check ok', async () => {
    const store = new MemoryStore();
    const db = await openDatabase({ store, name: 'team.db', pageSize, blockSize });
    let expected: unknown[][];
    try {
      await db.exec(`CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, team TEXT, photo BLOB, score REAL);
                     CREATE INDEX people_by_team ON people(team);
                     CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;`);
      await db.transaction(async () => {
        for (let i = 1; i <= 4000; i++) {
          const photo = new Uint8Array(i % 1500).map((_, j) => (i * 31 + j) & 0xff);
          await db.run('INSERT INTO people VALUES (?, ?, ?, ?, ?)', [i, `person ${i}`, `team ${i % 17}`, photo, i / 8]);
        }
        await db.run("INSERT INTO settings VALUES ('theme', 'dark'), ('lang', 'fr')");
      });
      await db.run('DELETE FROM people WHERE id % 10 = 0'); // free pages too
      expected = await Promise.all(QUERIES.map((sql) => db.all(sql)));
    } finally {
      await db.close();
    }

    const path = join(dir, `team-${pageSize}-${blockSize}.sqlite`);
    await pipeline(Readable.from(serialize({ store, name: 'team.db' })), createWriteStream(path));

    expect(shell(path, 'PRAGMA integrity_check;').trim()).toBe('ok');
    expect(shell(path, 'PRAGMA page_size;').trim()).toBe(String(pageSize));
    for (const [i, sql] of QUERIES.entries()) expect(shellRows(path, sql)).toEqual(expected[i]);
  });
});
