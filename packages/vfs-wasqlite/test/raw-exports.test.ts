import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MemoryStore } from '@blockvfs/store-memory';
import { loadWaSqlite, openDatabase } from '@blockvfs/vfs-wasqlite';
import { describe, expect, test } from 'vitest';
import { exportKeys, NEVER_SUSPENDING } from '../src/raw-exports.js';

/** A wasm export seen from JavaScript is named by its function index; the glue's wrappers are not. */
const isWasmFunction = (fn: unknown): boolean => typeof fn === 'function' && /^\d+$/.test(fn.name);

describe('direct calls for the functions that never suspend (Asyncify build)', () => {
  test("the pinned glue's text names the export of every one of them", async () => {
    const packageDir = dirname(createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/package.json'));
    const keys = exportKeys(await readFile(join(packageDir, 'dist', 'wa-sqlite-async.mjs'), 'utf8'));
    // A wa-sqlite upgrade whose glue reads otherwise fails here rather than only running slower.
    expect(NEVER_SUSPENDING.filter((name) => !keys.has(name))).toEqual([]);
    expect(keys.size).toBeGreaterThan(200);
  });

  test('a loaded module calls them directly and keeps the glue around the ones that can suspend', async () => {
    const { module } = await loadWaSqlite('asyncify');
    const functions = module as unknown as Record<string, unknown>;
    expect(NEVER_SUSPENDING.filter((name) => !isWasmFunction(functions[name]))).toEqual([]);
    expect(isWasmFunction(functions._sqlite3_step)).toBe(false);
    expect(isWasmFunction(functions._sqlite3_reset)).toBe(false);
  });

  test('every kind of value binds and reads back through them, and a statement suspended for a read still steps on', async () => {
    const store = new MemoryStore();
    const db = await openDatabase({ store, name: 'raw.db' });
    await db.exec('CREATE TABLE t (i INTEGER, big INTEGER, f REAL, s TEXT, b BLOB, n)');
    const row = { i: 7, big: 2n ** 60n, f: 1.5, s: 'héllo ✓', b: new Uint8Array([1, 2, 3]), n: null };
    await db.run('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)', [row.i, row.big, row.f, row.s, row.b, row.n]);
    await db.run('INSERT INTO t SELECT i + 1, big, f, s || i, randomblob(5000), n FROM t');
    await db.close();
    // A new connection reads its pages from the store: the step suspends SQLite in the middle of the direct calls' statement.
    const again = await openDatabase({ store, name: 'raw.db' });
    expect(await again.get('SELECT i, big, f, s, b, n FROM t WHERE i = 7')).toEqual(row);
    expect(await again.all('SELECT i, s, length(b) AS len FROM t ORDER BY i')).toEqual([
      { i: 7, s: 'héllo ✓', len: 3 },
      { i: 8, s: 'héllo ✓7', len: 5000 },
    ]);
    await again.close();
  });
});
