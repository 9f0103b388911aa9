import { spawnSync } from 'node:child_process';
import { sourceEnv, sourceExecArgv } from '@blockvfs/test-workloads';
import { fileURLToPath } from 'node:url';
import type { BlockStore, CommitEvent, GarbageReport, RequestEvent } from '@blockvfs/core';
import { serialize, deserialize } from '@blockvfs/serialize';
import { ManualClock } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, test } from 'vitest';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

/** Automatic retention (issue 12, item 3) and the request and commit logs (item 4), through openDatabase. */

const MINUTE = 60_000;

async function bytesUnder(store: BlockStore, prefix: string): Promise<{ objects: number; bytes: number; records: number }> {
  let objects = 0;
  let bytes = 0;
  let records = 0;
  for await (const entry of store.list(prefix)) {
    objects += 1;
    bytes += entry.size;
    if (entry.key.startsWith(`${prefix}log/`)) records += 1;
  }
  return { objects, bytes, records };
}

describe('retentionMs: a writer collects its own garbage in the background', () => {
  test('3,000 single-row commits with retentionMs 60 000: history stays bounded while busy, and after the clock moves on it is under 2x what the newest state needs; a reader opened asOf within the window keeps reading', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const collections: GarbageReport[] = [];
    // 4 KiB blocks: the newest state spans a dozen blocks, so the 2x bound below measures
    // history kept, not the one extra copy of a block that the newest record carries inline
    // (at 64 KiB the whole 57 KB database is one block, and that copy alone is 1x).
    const db = await openDatabase({
      store,
      name: 'app.db',
      clock,
      lease: true,
      retentionMs: MINUTE,
      blockSize: 4096,
      onCollect: (report) => collections.push(report),
    });
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    for (let n = 1; n <= 3000; n++) {
      await db.run('INSERT INTO t (body) VALUES (?)', [`row ${n}`]);
      clock.advance(1000); // a commit a second: 50 minutes of history
    }
    // Collections ran every minute; the horizon is the grace period (10 minutes, more than the retention):
    // at most about 11 minutes of records (one more minute piles up between collections), not 3000.
    const busy = await bytesUnder(store, 'app.db/');
    expect(collections.length).toBeGreaterThanOrEqual(40);
    expect(busy.records).toBeLessThanOrEqual(12 * 60);

    // A reader of the newest state as of 30 s ago (within the retention window), opened before the next collection.
    clock.advance(60 * MINUTE);
    const reader = await openDatabase({ store, name: 'app.db', clock, readOnly: true, asOf: new Date(clock.now() - 30_000) });
    await db.run("INSERT INTO t (body) VALUES ('after an hour')"); // due: starts a collection
    await db.close(); // waits for it
    const after = await bytesUnder(store, 'app.db/');
    expect((await reader.get<{ n: number }>('SELECT count(*) AS n FROM t'))?.n).toBe(3000);
    expect((await reader.get<{ body: string }>('SELECT body FROM t WHERE id = 2999'))?.body).toBe('row 2999');
    await reader.close();

    // What the newest state needs: the same database imported fresh.
    const copy = new MemoryStore();
    await deserialize({ store: copy, name: 'copy.db', source: serialize({ store, name: 'app.db' }), blockSize: 4096 });
    const needed = await bytesUnder(copy, 'copy.db/');
    expect(after.records).toBeLessThanOrEqual(2);
    expect(after.bytes).toBeLessThan(2 * needed.bytes);
  });

  test('retentionMs false keeps every commit; a read-only connection never collects', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const db = await openDatabase({ store, name: 'keep.db', clock, lease: true, retentionMs: false });
    await db.exec('CREATE TABLE t (x)');
    for (let n = 1; n <= 20; n++) {
      await db.run('INSERT INTO t VALUES (?)', [n]);
      clock.advance(10 * MINUTE);
    }
    await db.close();
    expect((await bytesUnder(store, 'keep.db/')).records).toBe(21);
    await expect(openDatabase({ store, name: 'keep.db', layout: 'direct', retentionMs: 1000 })).rejects.toThrow(/"retentionMs" needs the atomic layout/);
    await expect(openDatabase({ store, name: 'keep.db', retentionMs: -1 })).rejects.toThrow(/"retentionMs" must be a non-negative integer of ms, or false/);
  });
});

describe('onRequest and onCommit', () => {
  test('tell this database’s requests and commits, not another’s on the same store', async () => {
    const store = new MemoryStore();
    const requests: RequestEvent[] = [];
    const commits: CommitEvent[] = [];
    const db = await openDatabase({ store, name: 'a.db', onRequest: (e) => requests.push(e), onCommit: (e) => commits.push(e) });
    const other = await openDatabase({ store, name: 'b.db' });
    await db.exec('CREATE TABLE t (x)');
    await other.exec('CREATE TABLE u (y)');
    await db.run('INSERT INTO t VALUES (1)');
    await db.close();
    await other.close();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((e) => e.key.startsWith('a.db'))).toBe(true);
    expect(requests.filter((e) => e.op === 'put' && e.condition === 'if-none-match').map((e) => e.key)).toEqual(
      commits.map((_c) => expect.stringContaining(`a.db/log/`)),
    );
    expect(commits.map((c) => c.seq)).toEqual([1, 2]);
    expect(requests.every((e) => e.outcome === 'ok' || e.outcome === 'missing')).toBe(true);
  });

  test('stop telling after close', async () => {
    const store = new MemoryStore();
    const requests: RequestEvent[] = [];
    const db = await openDatabase({ store, name: 'a.db', onRequest: (e) => requests.push(e) });
    await db.exec('CREATE TABLE t (x)');
    await db.close();
    const seen = requests.length;
    const again = await openDatabase({ store, name: 'a.db' });
    await again.run('INSERT INTO t VALUES (1)');
    await again.close();
    expect(requests.length).toBe(seen);
  });

  test('DEBUG=blockvfs:* prints each request and commit to standard error, with no code change', () => {
    const script = `
      import { MemoryStore } from '@blockvfs/store-memory';
      import { openDatabase } from '@blockvfs/vfs-wasqlite';
      const db = await openDatabase({ store: new MemoryStore({ name: 'mem' }), name: 'logged.db' });
      await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      await db.close();
    `;
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [...sourceExecArgv(), '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...sourceEnv(), ...env, DEBUG_COLORS: 'no' },
        encoding: 'utf8',
      });
    const logged = run({ DEBUG: 'blockvfs:*' });
    expect(logged.status, logged.stderr).toBe(0);
    expect(logged.stderr).toMatch(/blockvfs:request mem put logged\.db\/log\/\S+ \(if-none-match\) \d+ B [\d.]+ ms ok/);
    expect(logged.stderr).toMatch(/blockvfs:request mem get logged\.db\/head \d+ B [\d.]+ ms (ok|missing)/);
    expect(logged.stderr).toMatch(/blockvfs:commit logged\.db commit 1: \d+ blocks, \d+ B inline, size \d+ B/);
    const quiet = run({ DEBUG: '' });
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/blockvfs:/);
  });
});
