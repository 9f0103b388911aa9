import { type BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { withFaults } from '@blockvfs/core/testing';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLOUD_MATRIX_CASES, runSqlMatrixCase } from '@blockvfs/test-workloads';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { createTestContainer, deleteTestContainer, NO_SDK_RETRIES } from './azure-fixture.js';

let container: ContainerClient;
let prefixes = 0;
beforeAll(async () => {
  container = await createTestContainer('sql');
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

/** The SQL matrix's cloud subset (CLOUD_MATRIX_CASES) on Azure Blob. */
describe('SQL on AzureBlobStore', () => {
  test.each(CLOUD_MATRIX_CASES)('$layout layout, page $pageSize, block $blockSize, journal $mode', async (matrixCase) => {
    const store = new AzureBlobStore({ container, prefix: `case-${++prefixes}/` });
    await runSqlMatrixCase(store, matrixCase);
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
