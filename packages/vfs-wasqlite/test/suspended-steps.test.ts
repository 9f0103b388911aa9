import { withFaults, withLatency } from '@blockvfs/core/testing';
import type { BlockStore } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, test } from 'vitest';
import { SqliteError, openDatabase } from '@blockvfs/vfs-wasqlite';

// Steps are called straight into SQLite; when a VFS method suspends it mid-statement
// (a block that must come from the store), the step ends later by itself and its result
// is read back (see Suspensions). These cases suspend often, in the middle of scans.

const ROWS = 3000;
const NAME = 'suspended.db';

/** A database of ROWS rows (about 80 blocks of 4 KiB: small blocks, so that a scan suspends often) on `base`, written and closed. */
async function seeded(): Promise<MemoryStore> {
  const base = new MemoryStore();
  const db = await openDatabase({ store: base, name: NAME, blockSize: 4096 });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  await db.transaction(async () => {
    for (let id = 1; id <= ROWS; id++) await db.run('INSERT INTO t VALUES (?, ?)', [id, `row ${id} `.padEnd(90, '.')]);
  });
  await db.close();
  return base;
}

/** A store object of its own over `base` (so nothing is cached yet), each request answered a little later. */
const cold = (base: BlockStore): BlockStore => withLatency(base, 1);

describe('steps that SQLite suspends in the middle', () => {
  test('a cold scan returns every row once, in order, through all(), iterate() and get()', async () => {
    const base = await seeded();
    const db = await openDatabase({ store: cold(base), name: NAME });
    const all = await db.all<{ id: number; v: string }>('SELECT id, v FROM t ORDER BY id');
    expect(all.map((row) => row.id)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    expect(all[41]?.v).toBe('row 42 '.padEnd(90, '.'));
    await db.close();

    const again = await openDatabase({ store: cold(base), name: NAME });
    const seen: number[] = [];
    for await (const row of again.iterate<{ id: number }>('SELECT id FROM t ORDER BY id DESC')) seen.push(row.id);
    expect(seen).toEqual(Array.from({ length: ROWS }, (_, i) => ROWS - i));
    expect(await again.get('SELECT count(*) AS n, sum(length(v)) AS bytes FROM t')).toEqual({ n: ROWS, bytes: ROWS * 90 });
    await again.close();
  });

  test('a store failure in the middle of a scan is the statement’s error, and the connection goes on', async () => {
    const base = await seeded();
    const counting = withFaults(cold(base), { at: [] });
    await (await openDatabase({ store: counting, name: NAME })).close();
    const opening = counting.faults.requests;
    // The store goes down at the 20th request after the open, well inside the table's blocks
    // (one failed read-ahead alone is no error: the real read asks again).
    const faulty = withFaults(cold(base), { at: Array.from({ length: 1000 }, (_, i) => opening + 20 + i) });
    const db = await openDatabase({ store: faulty, name: NAME });
    expect(faulty.faults.requests).toBeLessThan(opening + 20);
    const error = await db.all('SELECT * FROM t').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SqliteError);
    expect((error as SqliteError).code & 0xff).toBe(10); // SQLITE_IOERR, extended (IOERR_READ)
    expect((error as Error).message).toContain('injected fault');
    expect(faulty.faults.injected).toBeGreaterThanOrEqual(1);
    faulty.faults.disable();
    expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: ROWS });
    await db.close();
  });
});
