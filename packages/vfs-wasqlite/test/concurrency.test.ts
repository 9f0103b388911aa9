import { withLatency } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { expect, test } from 'vitest';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

/**
 * Many calls at once on several Database objects share one SQLite module: every
 * call must wait its turn, or results come back wrong. A store with latency makes
 * each call suspend SQLite for a while, so that unserialised calls would overlap.
 */
test('concurrent calls on several databases give correct results', async () => {
  const slow = withLatency(new MemoryStore(), 1);
  const shared = new MemoryStore();
  const dbs: Database[] = [
    await openDatabase({ store: slow, name: 'a.db' }),
    await openDatabase({ store: new MemoryStore(), name: 'b.db', pageSize: 512 }),
    await openDatabase({ store: shared, name: 'c.db' }),
    await openDatabase({ store: shared, name: 'c.db' }), // a second connection to the same database
  ];
  await dbs[0]!.exec('CREATE TABLE t (n INTEGER, who TEXT)');
  await dbs[1]!.exec('CREATE TABLE t (n INTEGER, who TEXT)');
  await dbs[2]!.exec('CREATE TABLE t (n INTEGER, who TEXT)');

  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < 100; i++) {
    dbs.forEach((db, d) => {
      jobs.push(
        (async () => {
          await db.run('INSERT INTO t (n, who) VALUES (?, ?)', [i, `db${d}`]);
          const echo = await db.get('SELECT ? * 2 AS twice, ? AS who', [i, `db${d}:${i}`]);
          expect(echo).toEqual({ twice: i * 2, who: `db${d}:${i}` });
          const rows = await db.all('SELECT n FROM t WHERE who = ? AND n = ?', [`db${d}`, i]);
          expect(rows).toEqual([{ n: i }]);
        })(),
      );
    });
  }
  await Promise.all(jobs);

  const sum = (100 * 99) / 2;
  expect(await dbs[0]!.get('SELECT count(*) AS c, sum(n) AS s FROM t')).toEqual({ c: 100, s: sum });
  expect(await dbs[1]!.get('SELECT count(*) AS c, sum(n) AS s FROM t')).toEqual({ c: 100, s: sum });
  // c.db got the rows of both its connections.
  expect(await dbs[3]!.get('SELECT count(*) AS c, sum(n) AS s FROM t')).toEqual({ c: 200, s: 2 * sum });
  for (const db of dbs) {
    expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await db.close();
  }
});
