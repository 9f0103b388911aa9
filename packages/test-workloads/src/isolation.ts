import assert from 'node:assert/strict';
import { collectGarbage, type BlockStore } from '@blockvfs/core';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

/**
 * Snapshot isolation and garbage collection beside readers and writers, in the atomic
 * layout, on any store. `reopen()` gives another store object over the same objects:
 * another "process" (the VFS keeps its per-process state per store object).
 */
export interface TwoProcesses {
  store: BlockStore;
  reopen(): BlockStore;
}

async function count(db: Database): Promise<number> {
  return Number((await db.get('SELECT count(*) AS n FROM t'))?.n);
}

/** A long read transaction sees one commit while another process commits five times; the next transaction sees them all. */
export async function snapshotIsolation({ store, reopen }: TwoProcesses, name = 'snapshot.db'): Promise<void> {
  const writer = await openDatabase({ store, name });
  await writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('0')");
  const reader = await openDatabase({ store: reopen(), name, cacheBytes: 0 });
  try {
    await reader.exec('PRAGMA cache_size = 0'); // every page from the store
    await reader.transaction(async () => {
      assert.equal(await count(reader), 1);
      for (let i = 1; i <= 5; i++) {
        await writer.transaction(async () => {
          for (let j = 0; j < 50; j++) await writer.run('INSERT INTO t (v) VALUES (?)', [`${i}:${j}:${'x'.repeat(200)}`]);
          await writer.run('UPDATE t SET v = ? WHERE id = 1', [`version ${i}`]);
        });
        assert.equal(await count(reader), 1, `inside the read transaction, after the writer's commit ${i}`);
        assert.deepEqual(await reader.get('SELECT v FROM t WHERE id = 1'), { v: '0' });
      }
    });
    assert.equal(await count(reader), 251, 'the next transaction sees every commit');
    assert.deepEqual(await reader.get('SELECT v FROM t WHERE id = 1'), { v: 'version 5' });
  } finally {
    await reader.close();
    await writer.close();
  }
}

/**
 * Garbage collection runs while a writer commits and a reader stays in one read
 * transaction on an old commit: inside the grace period nothing either needs goes, and
 * the reader keeps reading its snapshot. Then, as if an hour later (the collector's
 * clock), the unreferenced objects go and what is left is exactly the latest commit's
 * blocks, its checkpoint and the head, which a new process opens intact.
 */
export async function gcBesideReaders({ store, reopen }: TwoProcesses, name = 'gc.db'): Promise<void> {
  const writer = await openDatabase({ store, name, cacheBytes: 0 });
  await writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  await writer.transaction(async () => {
    for (let i = 0; i < 200; i++) await writer.run('INSERT INTO t (v) VALUES (?)', ['x'.repeat(1000)]);
  });
  const reader = await openDatabase({ store: reopen(), name, cacheBytes: 0 });
  try {
    await reader.exec('PRAGMA cache_size = 0');
    await reader.transaction(async () => {
      const before = await reader.all('SELECT id, length(v) AS n FROM t');
      for (let round = 0; round < 6; round++) {
        await writer.run('UPDATE t SET v = ? WHERE id % 6 = ?', ['y'.repeat(1000), round]);
        const report = await collectGarbage({ store, name, retentionMs: 0 });
        assert.equal(report.deleted.blocks + report.deleted.records + report.deleted.checkpoints, 0, 'nothing is deleted inside the grace period');
        assert.deepEqual(await reader.all('SELECT id, length(v) AS n FROM t'), before, `the reader's snapshot, round ${round}`);
      }
    });
  } finally {
    await reader.close();
  }
  // An hour later by the collector's clock. (Connections idle that long re-read the head before
  // trusting their view of the file; the reader is closed here, as the hour has not passed for it.)
  const report = await collectGarbage({ store, name, retentionMs: 0, now: Date.now() + 60 * 60 * 1000 });
  assert.ok(report.deleted.blocks > 0 && report.deleted.records > 5, `objects went: ${JSON.stringify(report.deleted)}`);
  assert.equal(report.oldestKept, report.latest);
  const left: string[] = [];
  for await (const entry of store.list(`${name}/`)) left.push(entry.key);
  assert.equal(left.filter((key) => key.startsWith(`${name}/blocks/`)).length, report.kept.blocks);
  assert.deepEqual(
    left.filter((key) => !key.startsWith(`${name}/blocks/`)),
    [`${name}/checkpoint/${String(report.latest).padStart(12, '0')}`, `${name}/head`],
  );
  await writer.run("INSERT INTO t (v) VALUES ('after')");
  await writer.close();
  const fresh = await openDatabase({ store: reopen(), name });
  try {
    assert.deepEqual(await fresh.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    assert.deepEqual(await fresh.get("SELECT count(*) AS n FROM t WHERE v LIKE 'y%'"), { n: 200 });
    assert.equal(await count(fresh), 201);
  } finally {
    await fresh.close();
  }
}
