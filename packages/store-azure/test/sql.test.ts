import { createHash } from 'node:crypto';
import { BlockVfsError, isBlockVfsError, withFaults } from '@blockvfs/core';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openDatabase, SqliteError, type Database } from '@blockvfs/vfs-wasqlite';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { createTestContainer, deleteTestContainer, NO_SDK_RETRIES } from './azure-fixture.js';

/**
 * SQLite on Azure Blob: every rollback journal mode × two page/block sizes (equal,
 * and a block size that is not a multiple of the page size). Each case creates a
 * table, inserts (one transaction spilling SQLite's page cache), updates, deletes,
 * rolls one transaction back, closes, reopens on a new store object and finds the
 * same rows and `integrity_check` ok.
 */
const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'OFF'] as const;
const SIZES = [
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 512, blockSize: 1000 },
];
const cases = SIZES.flatMap((size) => JOURNAL_MODES.map((mode) => ({ ...size, mode })));

let container: ContainerClient;
let prefixes = 0;
beforeAll(async () => {
  container = await createTestContainer('sql');
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

function rowValue(id: number, length: number): string {
  return createHash('sha256').update(String(id)).digest('hex').repeat(Math.ceil(length / 64)).slice(0, length);
}

async function rows(db: Database): Promise<unknown[]> {
  return db.all('SELECT id, grp, v FROM t ORDER BY id');
}

describe('SQL on AzureBlobStore', () => {
  test.each(cases)('page $pageSize, block $blockSize, journal $mode', async ({ pageSize, blockSize, mode }) => {
    const prefix = `case-${++prefixes}/`;
    const store = new AzureBlobStore({ container, prefix });
    const name = 'matrix.db';
    const db = await openDatabase({ store, name, pageSize, blockSize });
    expect(await db.get(`PRAGMA journal_mode = ${mode}`)).toEqual({ journal_mode: mode.toLowerCase() });
    await db.exec('PRAGMA cache_size = 10; CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, v TEXT NOT NULL)');
    await db.transaction(async () => {
      for (let id = 1; id <= 120; id++) await db.run('INSERT INTO t VALUES (?, ?, ?)', [id, id % 7, rowValue(id, pageSize / 4)]);
    });
    for (let id = 121; id <= 124; id++) await db.run('INSERT INTO t VALUES (?, ?, ?)', [id, id % 7, rowValue(id, 50)]);
    await db.run('UPDATE t SET grp = grp + 100 WHERE id % 3 = 0');
    await db.run('DELETE FROM t WHERE id % 5 = 0');
    if (mode !== 'OFF') {
      // OFF has no rollback journal: ROLLBACK is undefined there.
      await expect(
        db.transaction(async () => {
          await db.run('UPDATE t SET v = ?', ['gone']);
          throw new Error('roll me back');
        }),
      ).rejects.toThrow('roll me back');
    }
    const before = await rows(db);
    expect(before).toHaveLength(124 - 24);
    await db.close();

    const reopened = await openDatabase({ store: new AzureBlobStore({ container, prefix }), name, blockSize });
    expect(await reopened.get('PRAGMA page_size')).toEqual({ page_size: pageSize });
    expect(await reopened.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await rows(reopened)).toEqual(before);
    await reopened.close();

    // Only the database's blocks remain (and PERSIST's kept journal), each a full block but the last.
    const blobs: Array<{ name: string; size: number }> = [];
    for await (const item of container.listBlobsFlat({ prefix })) blobs.push({ name: item.name.slice(prefix.length), size: item.properties.contentLength ?? -1 });
    const main = blobs.filter((b) => b.name.startsWith(`${name}/`));
    const journal = blobs.filter((b) => b.name.startsWith(`${name}-journal/`));
    expect(main.length + journal.length).toBe(blobs.length);
    if (mode !== 'PERSIST') expect(journal).toEqual([]);
    expect(main.slice(0, -1).every((b) => b.size === blockSize)).toBe(true);
  });
});

describe('store failures reach the SQL caller', () => {
  test('a statement whose store request fails (the container deleted underneath) reports the store’s message', async () => {
    const doomed = await createTestContainer('sql-gone', NO_SDK_RETRIES);
    const store = new AzureBlobStore({ container: doomed });
    const db = await openDatabase({ store, name: 'gone.db' });
    await db.exec("PRAGMA journal_mode = DELETE; CREATE TABLE t (x); INSERT INTO t VALUES ('before')");
    await deleteTestContainer(doomed);
    let failure: unknown;
    try {
      await db.run("INSERT INTO t VALUES ('after')");
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(SqliteError);
    const message = (failure as Error).message;
    expect(message).toContain(`@blockvfs/store-azure (${store.name})`);
    // Real Azure may still be deleting the container (409 ContainerBeingDeleted).
    expect(message).toMatch(/ContainerNotFound|ContainerBeingDeleted/);
    const cause = (failure as Error).cause;
    expect(isBlockVfsError(cause, 'permanent')).toBe(true);
    expect((cause as BlockVfsError).message).toBe(message.slice(message.indexOf('@blockvfs/store-azure')));
    await db.close().catch(() => undefined);
  });

  test('an injected transient fault on an Azure request surfaces with its message and kind', async () => {
    const store = new AzureBlobStore({ container, prefix: `faults-${++prefixes}/` });
    const setup = await openDatabase({ store, name: 'f.db' });
    await setup.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await setup.close();
    const faulty = withFaults(store, { ops: ['put'] });
    const db = await openDatabase({ store: faulty, name: 'f.db' });
    await expect(db.run('INSERT INTO t VALUES (2)')).rejects.toSatisfy(
      (error: Error) => error instanceof SqliteError && error.message.includes(`(${store.name}): injected fault`) && isBlockVfsError(error.cause, 'transient'),
    );
    await db.close().catch(() => undefined);
    const check = await openDatabase({ store, name: 'f.db' });
    expect(await check.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    expect(await check.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await check.close();
  });
});
