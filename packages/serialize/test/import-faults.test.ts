import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGarbage, isBlockVfsError, verifyObjects, type BlockStore } from '@blockvfs/core';
import { withFaults, type FaultMode } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deserialize } from '@blockvfs/serialize';
import { makeShellDatabase } from './helpers.js';

/**
 * An atomic-layout import is one commit: whatever single request fails, and however
 * (before it reached the store, or after the store did it), the database afterwards is
 * the old one or the new one, never a mix, never unreadable; an import that resolved is
 * the new one; and the database takes the next write and passes `verify`.
 */

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-import-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** The database imported, by size: small enough to go inline in the commit record, or as block objects named by it. */
const files = new Map<string, Uint8Array>();
beforeAll(() => {
  files.set('inline', makeShellDatabase(join(dir, 'inline.sqlite'), 4096, 100));
  files.set('blocks', makeShellDatabase(join(dir, 'blocks.sqlite'), 4096, 1000));
});

/** A store holding database "db": a few commits of table `t`, some folded by a checkpoint, one inline after it. */
async function oldDatabase(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const db = await openDatabase({ store, name: 'db', blockSize: 4096 });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  for (let id = 1; id <= 4; id++) {
    await db.run('INSERT INTO t VALUES (?, ?)', [id, `old ${id}`]);
    if (id === 3) await db.checkpoint();
  }
  await db.close();
  return store;
}

/** Which database "db" on `store` is now: 'old' or 'new', after checking that it is whole. */
async function whichDatabase(store: MemoryStore): Promise<'old' | 'new'> {
  const db = await openDatabase({ store, name: 'db' });
  try {
    expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    const tables = (await db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")).map((row) => row.name);
    if (tables.includes('t')) {
      expect(tables).toEqual(['t']);
      expect(await db.all('SELECT id, v FROM t ORDER BY id')).toEqual([1, 2, 3, 4].map((id) => ({ id, v: `old ${id}` })));
      return 'old';
    }
    expect(tables).toEqual(['authors', 'books', 'tags']);
    expect(await db.get('SELECT count(*) AS n FROM tags WHERE book_id NOT IN (SELECT id FROM books)')).toEqual({ n: 0 });
    // The next write goes on from it.
    await db.run('INSERT INTO authors VALUES (1000, ?)', ['after the import']);
    return 'new';
  } finally {
    await db.close();
  }
}

async function requestsOfCleanImport(file: Uint8Array): Promise<number> {
  const store = withFaults(await oldDatabase(), { at: [] });
  await deserialize({ store, name: 'db', source: [file] });
  return store.faults.requests;
}

/** Checks what is left after the import failed at one request, then that the database takes the import again. */
async function checkAfter(memory: MemoryStore, file: Uint8Array, what: string): Promise<'old' | 'new'> {
  const now = await whichDatabase(memory);
  // Whatever was left behind, the database checks out and the collector keeps what it needs.
  await collectGarbage({ store: memory, name: 'db', retentionMs: 0, now: Date.now() + 24 * 3600_000 });
  expect((await verifyObjects({ store: memory, name: 'db' })).problems, what).toEqual([]);
  if (now === 'old') {
    await deserialize({ store: memory, name: 'db', source: [file] });
    expect(await whichDatabase(memory)).toBe('new');
  }
  return now;
}

describe.each(['inline', 'blocks'])('atomic layout: an import (%s) with one failed request', (size) => {
  it.each<FaultMode>(['fail', 'fail-after'])('leaves the old database or the new one, whichever request fails (%s)', async (mode) => {
    const file = files.get(size) as Uint8Array;
    const total = await requestsOfCleanImport(file);
    expect(total).toBeGreaterThan(size === 'inline' ? 5 : 100);
    const outcomes = { resolvedNew: 0, rejectedOld: 0, rejectedNew: 0 };
    for (let at = 1; at <= total; at++) {
      const memory = await oldDatabase();
      const store = withFaults(memory, { at, mode });
      const imported = await deserialize({ store, name: 'db', source: [file] }).then(
        () => true,
        () => false,
      );
      const now = await checkAfter(memory, file, `after request ${at} failed`);
      if (imported) {
        expect(now, `request ${at} failed and the import resolved`).toBe('new');
        outcomes.resolvedNew += 1;
      } else if (now === 'old') outcomes.rejectedOld += 1;
      else {
        // Only a request the store did make can have committed the import while it failed.
        expect(mode, `request ${at} failed before reaching the store, yet the import is in`).toBe('fail-after');
        outcomes.rejectedNew += 1;
      }
    }
    // Every request but the commit record's fails the import; that one either way, as long as it is answered.
    expect(outcomes.rejectedOld).toBeGreaterThanOrEqual(total - 1);
    expect(outcomes.resolvedNew + outcomes.rejectedOld + outcomes.rejectedNew).toBe(total);
  });

  it('leaves the old database when the importing process stops at any request (it hangs there for good)', async () => {
    const file = files.get(size) as Uint8Array;
    const total = await requestsOfCleanImport(file);
    for (let at = 1; at <= total; at++) {
      const memory = await oldDatabase();
      const store = withFaults(memory, { at, mode: 'hang' });
      const importing = deserialize({ store, name: 'db', source: [file] }).then(
        () => 'resolved',
        () => 'rejected',
      );
      // Let it run up to the hung request, and the requests it sent beside it a moment more.
      await vi.waitFor(() => expect(store.faults.injected).toBe(1));
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await checkAfter(memory, file, `with request ${at} hung`), `with request ${at} hung`).toBe('old');
      store.faults.releaseHung();
      expect(await importing).toBe('rejected');
    }
  });
});

describe('atomic layout: an import racing a writer', () => {
  it("keeps the writer's acknowledged commit unless the import, a later commit, replaced it; whichever request the writer commits at", async () => {
    const file = files.get('blocks') as Uint8Array;
    const total = await requestsOfCleanImport(file);
    const outcomes = { importWon: 0, writerWon: 0 };
    for (let at = 1; at <= total; at += 7) {
      const memory = await oldDatabase();
      const writer = await openDatabase({ store: memory, name: 'db' });
      expect(await writer.get('SELECT count(*) AS n FROM t')).toEqual({ n: 4 }); // its view is the old database
      let acked = false;
      let count = 0;
      // The import's requests, the writer committing just before its request number `at`.
      const beforeRequest = async (): Promise<void> => {
        if (++count !== at) return;
        acked = await writer.run('INSERT INTO t VALUES (5, ?)', ['the writer']).then(
          () => true,
          () => false,
        );
      };
      const store: BlockStore = {
        name: memory.name,
        capabilities: memory.capabilities,
        get: (key, range) => beforeRequest().then(() => memory.get(key, range)),
        put: (key, data, condition) => beforeRequest().then(() => memory.put(key, data, condition)),
        delete: (keys) => beforeRequest().then(() => memory.delete(keys)),
        // Counted as withFaults counts (one request per page of a listing: these are short), so `at` runs up to `total`.
        list: (prefix, options) =>
          (async function* () {
            await beforeRequest();
            yield* memory.list(prefix, options);
          })(),
      };
      const imported = await deserialize({ store, name: 'db', source: [file] }).then(
        () => true,
        (error: unknown) => {
          expect(isBlockVfsError(error, 'precondition-failed'), String(error)).toBe(true);
          return false;
        },
      );
      await writer.close();
      const reader = await openDatabase({ store: memory, name: 'db' });
      try {
        const tables = (await reader.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'")).map((row) => row.name);
        if (imported) {
          expect(tables, `writer at request ${at}`).not.toContain('t');
          outcomes.importWon += 1;
        } else {
          expect(await reader.get("SELECT count(*) AS n FROM t WHERE v = 'the writer'"), `writer at request ${at}`).toEqual({ n: acked ? 1 : 0 });
          expect(acked, `the import failed, yet the writer at request ${at} did not commit`).toBe(true);
          outcomes.writerWon += 1;
        }
        expect(await reader.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      } finally {
        await reader.close();
      }
    }
    expect(outcomes.importWon).toBeGreaterThan(0);
    expect(outcomes.writerWon).toBeGreaterThan(0);
  });
});
