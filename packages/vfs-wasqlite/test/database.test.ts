import { BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { afterEach, describe, expect, test } from 'vitest';
import {
  AtomicVFS,
  BlockVFS,
  DirectVFS,
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  loadWaSqlite,
  SQLITE_CONSTRAINT,
  SQLITE_ERROR,
  SQLITE_READONLY,
  SqliteError,
  jspiSupported,
  openDatabase,
  type Database,
  type OpenDatabaseOptions,
} from '@blockvfs/vfs-wasqlite';
import { storeObjects } from './helpers.js';

const opened: Database[] = [];
async function open(options: Partial<OpenDatabaseOptions> & { store?: OpenDatabaseOptions['store'] } = {}): Promise<Database> {
  const db = await openDatabase({ store: options.store ?? new MemoryStore(), name: 'test.db', ...options });
  opened.push(db);
  return db;
}
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close().catch(() => undefined);
});

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('parameters and values', () => {
  test('positional and named parameters, with or without the prefix', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (a, b, c)');
    await db.run('INSERT INTO t VALUES (?, ?, ?)', [1, 'two', null]);
    await db.run('INSERT INTO t VALUES (:a, @b, $c)', { a: 4, b: 'five', c: 6 });
    await db.run('INSERT INTO t VALUES (:a, @b, $c)', { ':a': 7, '@b': 'eight', $c: 9 });
    await db.run('INSERT INTO t VALUES (?1, ?2, ?1)', [true, false]);
    expect(await db.all('SELECT * FROM t')).toEqual([
      { a: 1, b: 'two', c: null },
      { a: 4, b: 'five', c: 6 },
      { a: 7, b: 'eight', c: 9 },
      { a: 1, b: 0, c: 1 },
    ]);
  });

  test('wrong parameters are invalid, with a message saying which', async () => {
    const db = await open();
    const cases: Array<[string, unknown, RegExp]> = [
      ['SELECT ?, ?', [1], /2 parameter\(s\) but 1 value/],
      ['SELECT ?', undefined, /1 parameter\(s\) but no values/],
      ['SELECT :x', { y: 1 }, /no value for parameter :x/],
      ['SELECT ?', [undefined], /parameter 1: cannot bind undefined/],
      ['SELECT ?', [{ a: 1 }], /cannot bind Object/],
      ['SELECT ?', [2n ** 64n], /does not fit/],
      ['SELECT ?', { x: 1 }, /positional/],
    ];
    for (const [sql, params, message] of cases) {
      const error = await failure(db.get(sql, params as never));
      expect(isBlockVfsError(error, 'invalid'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    // The connection is still usable: no statement was left behind.
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
  });

  test('integers come back as numbers, or bigints outside the safe range', async () => {
    const db = await open();
    await db.exec('CREATE TABLE n (id INTEGER PRIMARY KEY, v)');
    // Around every edge of the 32-bit halves the value is read in, and of the safe range.
    const values = [
      0,
      -1,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      -(2 ** 31) - 1,
      2 ** 32 - 1,
      2 ** 32,
      -(2 ** 32),
      2 ** 40,
      -(2 ** 40) - 7,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 53n) - 1n,
      2n ** 62n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      1.5,
      -0.25,
    ];
    for (const v of values) await db.run('INSERT INTO n (v) VALUES (?)', [v]);
    const rows = await db.all('SELECT v, typeof(v) AS type FROM n ORDER BY id');
    expect(rows.map((r) => r.v)).toEqual(values);
    expect(rows.map((r) => r.type)).toEqual(values.map((v) => (typeof v === 'bigint' || Number.isInteger(v) ? 'integer' : 'real')));
    // A safe integer given as a bigint comes back as a number; -2^53 is outside the safe range.
    expect(await db.get('SELECT ? AS a, ? AS b', [5n, -(2n ** 53n)])).toEqual({ a: 5, b: -(2n ** 53n) });
  });

  test('text of every size and script round-trips: empty, accents, emoji, lone surrogates replaced, beyond the bind buffer', async () => {
    const db = await open();
    await db.exec('CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)');
    const big = 'ü€😀'.repeat(100_000); // 400,000 UTF-16 units, 900,000 UTF-8 bytes: past the scratch buffer
    const values = ['', 'a', 'é', 'naïve café', '日本語のテキスト', '😀👍🏽', 'x'.repeat(5000), big, 'after the big one'];
    for (const v of values) await db.run('INSERT INTO s (v) VALUES (?)', [v]);
    const rows = await db.all<{ v: string; n: number }>('SELECT v, length(CAST(v AS BLOB)) AS n FROM s ORDER BY id');
    expect(rows.map((r) => r.v)).toEqual(values);
    expect(rows.map((r) => r.n)).toEqual(values.map((v) => new TextEncoder().encode(v).length));
    expect(await db.get('SELECT ? AS v', ['\ud800 lone'])).toEqual({ v: '\ufffd lone' }); // as TextEncoder writes it
  });

  test('lastInsertRowid is a number, or a bigint beyond the safe range', async () => {
    const db = await open();
    await db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY, v)');
    expect(await db.run('INSERT INTO r (id, v) VALUES (?, 1)', [2 ** 40])).toEqual({ changes: 1, lastInsertRowid: 2 ** 40 });
    expect(await db.run('INSERT INTO r (id, v) VALUES (?, 1)', [2n ** 60n])).toEqual({ changes: 1, lastInsertRowid: 2n ** 60n });
    expect(await db.run('UPDATE r SET v = 2')).toEqual({ changes: 2, lastInsertRowid: 2n ** 60n });
  });

  test('blobs and text round trip', async () => {
    const db = await open();
    await db.exec('CREATE TABLE b (k TEXT, v BLOB)');
    const blob = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
    await db.run('INSERT INTO b VALUES (?, ?)', ['ünïcødé ✓ 🚀', blob]);
    await db.run('INSERT INTO b VALUES (?, ?)', ['empty', new Uint8Array(0)]);
    await db.run('INSERT INTO b VALUES (?, ?)', ['buffer', Buffer.from('abc')]);
    const rows = await db.all('SELECT k, v FROM b');
    expect(rows[0]).toEqual({ k: 'ünïcødé ✓ 🚀', v: blob });
    expect(rows[1]?.v).toEqual(new Uint8Array(0));
    expect(rows[2]?.v).toEqual(new Uint8Array([97, 98, 99]));
    expect(rows[0]?.v).toBeInstanceOf(Uint8Array);
  });
});

describe('statements', () => {
  test('exec runs several statements; get returns the first row or undefined', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);');
    expect(await db.get('SELECT x FROM t ORDER BY x')).toEqual({ x: 1 });
    expect(await db.get('SELECT x FROM t WHERE x > 5')).toBeUndefined();
    const error = await failure(db.run('INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)'));
    expect(isBlockVfsError(error, 'invalid')).toBe(true);
    expect(await db.all('SELECT x FROM t')).toHaveLength(2);
  });

  test('atomic layout: an unfinished iterate keeps its snapshot while another connection commits; the next query sees the commit', async () => {
    const store = new MemoryStore();
    const reader = await open({ store });
    const writer = await open({ store });
    await reader.exec('CREATE TABLE t (x)');
    for (let i = 0; i < 10; i++) await reader.run('INSERT INTO t VALUES (?)', [i]);
    const seen: unknown[] = [];
    for await (const row of reader.iterate('SELECT x FROM t ORDER BY x')) {
      seen.push(row.x);
      if (seen.length === 3) await writer.run('INSERT INTO t VALUES (-1), (100)'); // not blocked: its own view
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // the snapshot the loop began on
    const all: unknown[] = [];
    for await (const row of reader.iterate('SELECT x FROM t ORDER BY x')) all.push(row.x);
    expect(all).toEqual([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
  });

  test('direct layout: iterate yields rows; breaking early finalises the statement and frees its lock', async () => {
    const store = new MemoryStore();
    const reader = await open({ store, layout: 'direct' });
    const writer = await open({ store, layout: 'direct', busyTimeoutMs: 0 });
    await reader.exec('CREATE TABLE t (x)');
    for (let i = 0; i < 10; i++) await reader.run('INSERT INTO t VALUES (?)', [i]);
    const seen: unknown[] = [];
    for await (const row of reader.iterate('SELECT x FROM t ORDER BY x')) {
      seen.push(row.x);
      if (seen.length === 3) {
        // The unfinished read holds a SHARED lock: the writer cannot commit.
        const busy = await failure(writer.run('INSERT INTO t VALUES (100)'));
        expect(busy).toBeInstanceOf(SqliteError);
        expect((busy as SqliteError).code).toBe(SQLITE_BUSY);
        break;
      }
    }
    expect(seen).toEqual([0, 1, 2]);
    // Once the loop has left, the statement is gone and the writer gets through.
    await writer.run('INSERT INTO t VALUES (100)');
    const all: unknown[] = [];
    for await (const row of reader.iterate('SELECT x FROM t ORDER BY x')) all.push(row.x);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
  });

  test('a statement whose step fails is finalised', async () => {
    const db = await open();
    await db.exec('CREATE TABLE u (x UNIQUE)');
    await db.run('INSERT INTO u VALUES (1)');
    await expect(db.run('INSERT INTO u VALUES (1)')).rejects.toThrow(SqliteError);
    // A lingering statement would make close fail with SQLITE_BUSY.
    await db.close();
    expect(db.closed).toBe(true);
  });
});

describe('transactions', () => {
  test('commit returns the result; a throw rolls back and rethrows', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x)');
    expect(
      await db.transaction(async () => {
        await db.run('INSERT INTO t VALUES (1)');
        await db.run('INSERT INTO t VALUES (2)');
        return 'done';
      }),
    ).toBe('done');
    await expect(
      db.transaction(async () => {
        await db.run('INSERT INTO t VALUES (3)');
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 1 }, { x: 2 }]);
  });

  test('nested transactions are savepoints', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x)');
    await db.transaction(async () => {
      await db.run('INSERT INTO t VALUES (1)');
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t VALUES (2)');
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      await db.transaction(() => db.run('INSERT INTO t VALUES (3)'));
    });
    expect(await db.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 3 }]);
  });

  test('calls from outside a running transaction wait for it instead of joining it', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x)');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tx = db.transaction(async () => {
      await db.run('INSERT INTO t VALUES (1)');
      await gate;
      throw new Error('rolled back');
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const outside = db.run('INSERT INTO t VALUES (2)'); // must not become part of the doomed transaction
    release();
    await expect(tx).rejects.toThrow('rolled back');
    await outside;
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 2 }]);
  });
});

describe('errors', () => {
  test('a syntax error carries SQLite message and code', async () => {
    const db = await open();
    const error = await failure(db.exec('SELEC 1'));
    expect(error).toBeInstanceOf(SqliteError);
    const e = error as SqliteError;
    expect(e.message).toContain('near "SELEC": syntax error');
    expect(e.code).toBe(SQLITE_ERROR);
    expect(e.codeName).toBe('SQLITE_ERROR');
    expect(e.busy).toBe(false);
  });

  test('a constraint violation has its extended code', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x UNIQUE NOT NULL)');
    await db.run('INSERT INTO t VALUES (1)');
    const unique = (await failure(db.run('INSERT INTO t VALUES (1)'))) as SqliteError;
    expect(unique.code).toBe(SQLITE_CONSTRAINT);
    expect(unique.extendedCode).toBe(2067);
    expect(unique.codeName).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(unique.message).toMatch(/UNIQUE constraint failed: t\.x \(SQLITE_CONSTRAINT_UNIQUE\)/);
    const notNull = (await failure(db.run('INSERT INTO t VALUES (NULL)'))) as SqliteError;
    expect(notNull.codeName).toBe('SQLITE_CONSTRAINT_NOTNULL');
  });

  test('bad options are invalid', async () => {
    const store = new MemoryStore();
    const bad: Array<Partial<OpenDatabaseOptions>> = [
      { layout: 'zigzag' as never },
      { pageSize: 1000 },
      { pageSize: 131072 },
      { blockSize: 0 },
      { name: '' },
      { name: ':memory:' },
      { build: 'sync' as never },
    ];
    for (const options of bad) {
      const error = await failure(openDatabase({ store, name: 'x.db', ...options }));
      expect(isBlockVfsError(error, 'invalid'), JSON.stringify(options)).toBe(true);
    }
    expect(await storeObjects(store)).toEqual([]);
  });
});

describe('close', () => {
  test('close finalises live statements; every method then rejects clearly', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)');
    const rows = db.iterate('SELECT x FROM t');
    expect((await rows.next()).value).toEqual({ x: 1 });
    await db.close();
    await db.close(); // harmless
    const calls: Array<() => Promise<unknown>> = [
      () => rows.next(),
      () => db.exec('SELECT 1'),
      () => db.run('SELECT 1'),
      () => db.all('SELECT 1'),
      () => db.get('SELECT 1'),
      () => db.iterate('SELECT 1').next(),
      () => db.transaction(async () => 1),
    ];
    for (const call of calls) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(BlockVfsError);
      expect((error as BlockVfsError).kind).toBe('invalid');
      expect((error as Error).message).toContain('"test.db" is closed');
    }
  });

  test('await using closes the database when its scope ends, also when the scope throws', async () => {
    const store = new MemoryStore();
    let kept: Database | undefined;
    {
      await using db = await openDatabase({ store, name: 'scoped.db' });
      kept = db;
      await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    }
    expect(kept.closed).toBe(true);
    const thrown = await failure(
      (async () => {
        await using db = await openDatabase({ store, name: 'scoped.db' });
        kept = db;
        throw new Error('boom');
      })(),
    );
    expect((thrown as Error).message).toBe('boom');
    expect(kept.closed).toBe(true);
  });
});

describe('row types', () => {
  test('get, all and iterate take an interface as the row type', async () => {
    interface Note {
      id: number;
      body: string;
    }
    const db = await open();
    await db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')");
    const first: Note | undefined = await db.get<Note>('SELECT id, body FROM notes WHERE id = 1');
    const all: Note[] = await db.all<Note>('SELECT id, body FROM notes ORDER BY id');
    const bodies: string[] = [];
    for await (const note of db.iterate<Note>('SELECT id, body FROM notes ORDER BY id')) bodies.push(note.body);
    expect(first).toEqual({ id: 1, body: 'a' });
    expect(all.map((note) => note.body)).toEqual(['a', 'b']);
    expect(bodies).toEqual(['a', 'b']);
  });
});

describe('journal modes', () => {
  test('WAL is refused with a clear error and the mode stays as it was', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x)');
    for (const sql of ['PRAGMA journal_mode = WAL', "PRAGMA main.journal_mode='wal'", 'pragma journal_mode(wal)']) {
      const error = await failure(db.get(sql));
      expect(isBlockVfsError(error, 'invalid'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/WAL.*shared/);
    }
    await expect(db.exec('PRAGMA journal_mode=WAL; CREATE TABLE never (x)')).rejects.toThrow(/journal_mode=WAL is not available/);
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'delete' });
    expect(await db.get("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'never'")).toEqual({ n: 0 });
  });

  test('the raw VFS refuses to open a -wal file (a WAL-format database in EXCLUSIVE locking mode)', async () => {
    const store = new MemoryStore();
    const db = await open({ store, layout: 'direct' }); // the direct layout, to edit the header on the store
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await db.close();
    // Mark the file as WAL-format (header bytes 18 and 19 = 2), as SQLite itself does when it switches to WAL.
    const block = (await store.get('test.db/0000000000'))!;
    block[18] = 2;
    block[19] = 2;
    await store.put('test.db/0000000000', block);
    // Through the raw API on a module of its own: openDatabase's first PRAGMA would already fail inside
    // SQLite with a bare SQLITE_CANTOPEN (WAL without shared memory, normal locking mode), before any VFS call.
    const sqlite = await loadWaSqlite('asyncify');
    const vfs = new BlockVFS('wal-refusal', sqlite.module, { store, layout: 'direct' });
    sqlite.registerVfs(vfs);
    const handle = await sqlite.api.open_v2('test.db', 0x2, vfs.name);
    sqlite.enableExtendedResultCodes(handle);
    const statements = sqlite.api.statements(handle, 'PRAGMA locking_mode = EXCLUSIVE; SELECT * FROM t', { unscoped: true });
    const error = await failure(
      (async () => {
        for await (const stmt of statements) {
          try {
            while ((await sqlite.api.step(stmt)) === 100);
          } finally {
            await sqlite.api.finalize(stmt);
          }
        }
      })(),
    );
    expect((error as { code?: number }).code).toBe(SQLITE_CANTOPEN);
    const cause = vfs.takeLastError();
    expect(isBlockVfsError(cause, 'invalid')).toBe(true);
    expect((cause as Error).message).toContain('cannot open "test.db-wal": journal_mode=WAL is not available');
    await sqlite.api.close(handle);
    expect(vfs.openFileCount).toBe(0);
    expect(await storeObjects(store, 'test.db-wal')).toEqual([]);
  });

  test('new BlockVFS(…) builds the VFS class of its layout (atomic by default), each an instanceof BlockVFS', async () => {
    const store = new MemoryStore();
    const sqlite = await loadWaSqlite('asyncify');
    const atomic = new BlockVFS('by-default', sqlite.module, { store });
    const direct = new BlockVFS('by-layout', sqlite.module, { store, layout: 'direct' });
    expect(atomic).toBeInstanceOf(AtomicVFS);
    expect(direct).toBeInstanceOf(DirectVFS);
    expect([atomic.layout, direct.layout]).toEqual(['atomic', 'direct']);
    expect(atomic instanceof BlockVFS && direct instanceof BlockVFS).toBe(true);
    expect(() => new BlockVFS('wrong', sqlite.module, { store, layout: 'direct', atomic: { freshnessMs: 5 } })).toThrow(
      /atomic-layout options were given for layout "direct"/,
    );
    expect(() => new DirectVFS('mismatch', sqlite.module, { store, layout: 'atomic' })).toThrow(/layout "atomic" was given to the VFS of layout "direct"/);
  });
});

describe('read-only', () => {
  test('a missing database is not-found', async () => {
    const error = await failure(openDatabase({ store: new MemoryStore(), name: 'missing.db', readOnly: true }));
    expect(isBlockVfsError(error, 'not-found')).toBe(true);
    expect((error as Error).message).toContain('"missing.db" does not exist');
  });

  test('reads work, writes fail with SQLITE_READONLY', async () => {
    const store = new MemoryStore();
    const writer = await open({ store });
    await writer.exec('CREATE TABLE t (x); INSERT INTO t VALUES (42)');
    await writer.close();
    const before = await storeObjects(store);
    const reader = await open({ store, readOnly: true });
    expect(await reader.all('SELECT x FROM t')).toEqual([{ x: 42 }]);
    const error = (await failure(reader.run('INSERT INTO t VALUES (1)'))) as SqliteError;
    expect(error.code).toBe(SQLITE_READONLY);
    await reader.close();
    expect(await storeObjects(store)).toEqual(before);
  });
});

describe('two connections in one process', () => {
  test("atomic layout: two connections write side by side; the transaction that loses the race is run again on the other's commit", async () => {
    const store = new MemoryStore();
    const a = await open({ store });
    const b = await open({ store });
    await a.exec('CREATE TABLE t (x)');
    await a.run('INSERT INTO t VALUES (1)');
    let runs = 0;
    await a.transaction(async () => {
      runs += 1;
      const n = ((await a.get('SELECT count(*) AS n FROM t')) as { n: number }).n;
      if (runs === 1) await b.run('INSERT INTO t VALUES (3)'); // not blocked; commits first
      await a.run('INSERT INTO t VALUES (?)', [10 + n]);
    });
    expect(runs).toBe(2); // its first commit lost to b's; run again, it read b's row
    expect(await b.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 3 }, { x: 12 }]);
  });

  test('direct layout: a writer in a transaction makes the other writer busy; committed data becomes visible', async () => {
    const store = new MemoryStore();
    const a = await open({ store, layout: 'direct' });
    const b = await open({ store, layout: 'direct', busyTimeoutMs: 0 });
    await a.exec('CREATE TABLE t (x)');
    await a.run('INSERT INTO t VALUES (1)');
    await a.transaction(async () => {
      await a.run('INSERT INTO t VALUES (2)');
      const busy = (await failure(b.run('INSERT INTO t VALUES (3)'))) as SqliteError;
      expect(busy).toBeInstanceOf(SqliteError);
      expect(busy.busy).toBe(true);
      expect(busy.code).toBe(SQLITE_BUSY);
      expect(busy.codeName).toBe('SQLITE_BUSY');
      // b may still read, and sees only what was committed.
      expect(await b.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    });
    expect(await b.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }]);
    await b.run('INSERT INTO t VALUES (3)');
    expect(await a.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
  });

  test('direct layout: a COMMIT blocked by a reader is busy and rolls back', async () => {
    const store = new MemoryStore();
    const a = await open({ store, layout: 'direct', busyTimeoutMs: 0 });
    const b = await open({ store, layout: 'direct' });
    await a.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)');
    const reading = b.iterate('SELECT x FROM t');
    await reading.next(); // b holds SHARED until the statement ends
    const error = (await failure(a.transaction(() => a.run('INSERT INTO t VALUES (3)')))) as SqliteError;
    expect(error.busy).toBe(true);
    await reading.return!();
    expect(await b.all('SELECT x FROM t')).toEqual([{ x: 1 }, { x: 2 }]);
  });
});

describe('names and builds', () => {
  test('the name is used on the store as given (no path mangling); in the direct layout the journal is beside it', async () => {
    const name = `tenants/42/${'long-name-'.repeat(12)}app.db`;
    const direct = new MemoryStore();
    const db = await open({ store: direct, name, layout: 'direct' });
    await db.exec('PRAGMA journal_mode = PERSIST; CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await db.close();
    const keys = (await storeObjects(direct)).map((o) => o.key);
    expect(keys).toContain(`${name}/0000000000`);
    expect(keys).toContain(`${name}-journal/0000000000`);
    expect(keys.every((k) => k.startsWith(`${name}/`) || k.startsWith(`${name}-journal/`))).toBe(true);

    const atomic = new MemoryStore();
    const adb = await open({ store: atomic, name });
    await adb.exec('PRAGMA journal_mode = PERSIST; CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await adb.close();
    const atomicKeys = (await storeObjects(atomic)).map((o) => o.key);
    expect(atomicKeys).toEqual([`${name}/log/000000000001`, `${name}/log/000000000002`]); // two small commits, inline
  });

  test.skipIf(!jspiSupported())('the JSPI build works as well', async () => {
    const store = new MemoryStore();
    const db = await open({ store, build: 'jspi' });
    await db.exec('CREATE TABLE t (x)');
    await db.transaction(async () => {
      for (let i = 0; i < 50; i++) await db.run('INSERT INTO t VALUES (?)', [i]);
    });
    expect(await db.get('SELECT sum(x) AS s FROM t')).toEqual({ s: 1225 });
    await db.close();
    // The same database is readable from the other build.
    const other = await open({ store });
    expect(await other.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await other.get('SELECT count(*) AS n FROM t')).toEqual({ n: 50 });
  });

  test('page size applies to a new database', async () => {
    const store = new MemoryStore();
    const db = await open({ store, pageSize: 8192, layout: 'direct' });
    await db.exec('CREATE TABLE t (x)');
    expect(await db.get('PRAGMA page_size')).toEqual({ page_size: 8192 });
    expect((await storeObjects(store)).map((o) => o.size)).toEqual([8192, 8192]);
    const atomic = await open({ store: new MemoryStore(), pageSize: 8192 });
    await atomic.exec('CREATE TABLE t (x)');
    expect(await atomic.get('PRAGMA page_size')).toEqual({ page_size: 8192 });
  });

  test.each(['direct', 'atomic'] as const)('an existing database keeps its page and block size whatever a reopen asks for (%s layout)', async (layout) => {
    const store = new MemoryStore();
    const db = await open({ store, pageSize: 8192, blockSize: 8192, layout });
    await db.exec('CREATE TABLE t (x); INSERT INTO t SELECT zeroblob(3000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)');
    await db.close();
    const again = await open({ store, pageSize: 1024, blockSize: 1024, layout });
    expect(await again.get('PRAGMA page_size')).toEqual({ page_size: 8192 });
    await again.run('INSERT INTO t VALUES (zeroblob(9000))');
    expect(await again.get('SELECT count(*) AS n, sum(length(x)) AS bytes FROM t')).toEqual({ n: 5, bytes: 21000 });
    expect(await again.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    await again.checkpoint(); // the atomic layout's blocks then all exist as block objects
    const sizes = (await storeObjects(store, layout === 'direct' ? 'test.db/0' : 'test.db/blocks/')).map((o) => o.size);
    expect(new Set(sizes)).toEqual(new Set([8192]));
  });
});

describe('prepared statement reuse', () => {
  test('the same SQL with other parameters, many times, gives each call its own result', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    for (let id = 1; id <= 200; id++) await db.run('INSERT INTO t VALUES (?, ?)', [id, `v${id}`]);
    for (let id = 200; id >= 1; id -= 7) expect(await db.get('SELECT v FROM t WHERE id = ?', [id])).toEqual({ v: `v${id}` });
    expect(await db.get('SELECT v FROM t WHERE id = ?', [999])).toBeUndefined();
    expect(await db.get('SELECT ? AS a, ? AS b', [1, 2])).toEqual({ a: 1, b: 2 });
    expect(await db.get('SELECT ? AS a, ? AS b', [3, null])).toEqual({ a: 3, b: null });
    // Too few values is still refused on a reused statement, and the statement stays usable.
    await expect(db.get('SELECT ? AS a, ? AS b', [3])).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    expect(await db.get('SELECT ? AS a, ? AS b', ['x', 'y'])).toEqual({ a: 'x', b: 'y' });
  });

  test('a schema change between two calls of the same SQL is seen', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(await db.all('SELECT * FROM t')).toEqual([{ x: 1 }]);
    await db.exec('ALTER TABLE t ADD COLUMN y DEFAULT 2');
    expect(await db.all('SELECT * FROM t')).toEqual([{ x: 1, y: 2 }]);
    expect(await db.get('SELECT * FROM t')).toEqual({ x: 1, y: 2 });
    // A column renamed under a statement kept for reuse: its names are read again.
    await db.exec('ALTER TABLE t RENAME COLUMN y TO z');
    expect(await db.get('SELECT * FROM t')).toEqual({ x: 1, z: 2 });
  });

  test('a statement whose step failed is not reused in a bad state', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    await db.run('INSERT INTO t VALUES (?)', [1]);
    await expect(db.run('INSERT INTO t VALUES (?)', [1])).rejects.toMatchObject({ code: SQLITE_CONSTRAINT });
    expect(await db.run('INSERT INTO t VALUES (?)', [2])).toMatchObject({ changes: 1, lastInsertRowid: 2 });
  });

  test('an iterate in progress and a get of the same SQL do not share a statement', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)');
    const sql = 'SELECT id FROM t WHERE id >= ? ORDER BY id';
    expect(await db.get(sql, [1])).toEqual({ id: 1 }); // leaves a cached statement for this SQL
    const seen: number[] = [];
    for await (const row of db.iterate<{ id: number }>(sql, [1])) {
      seen.push(row.id);
      expect(await db.get(sql, [3])).toEqual({ id: 3 });
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  test('more distinct statements than the cache holds: evicted ones are finalised, close succeeds', async () => {
    const store = new MemoryStore();
    const db = await open({ store });
    await db.exec('CREATE TABLE t (x)');
    for (let i = 0; i < 100; i++) expect(await db.get(`SELECT ${i} AS n FROM (SELECT 1)`)).toEqual({ n: i });
    await db.close(); // SQLite refuses to close a connection with statements left (BUSY)
    const again = await open({ store });
    expect(await again.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
  });
});

describe('db.prepare()', () => {
  test('run, get, all and iterate with new parameters each time', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = await db.prepare('INSERT INTO t VALUES (?, ?)');
    expect(insert.sql).toBe('INSERT INTO t VALUES (?, ?)');
    for (let id = 1; id <= 50; id++) expect(await insert.run([id, `v${id}`])).toEqual({ changes: 1, lastInsertRowid: id });
    const byId = await db.prepare<{ v: string }>('SELECT v FROM t WHERE id = ?');
    for (let id = 50; id >= 1; id -= 3) expect(await byId.get([id])).toEqual({ v: `v${id}` });
    expect(await byId.get([999])).toBeUndefined();
    const range = await db.prepare<{ id: number }>('SELECT id FROM t WHERE id BETWEEN :lo AND :hi ORDER BY id');
    expect(await range.all({ lo: 3, hi: 5 })).toEqual([{ id: 3 }, { id: 4 }, { id: 5 }]);
    const seen: number[] = [];
    for await (const row of range.iterate({ lo: 48, hi: 60 })) seen.push(row.id);
    expect(seen).toEqual([48, 49, 50]);
    // Usable again after the loop, and after a loop left early.
    for await (const row of range.iterate({ lo: 1, hi: 50 })) if (row.id === 2) break;
    expect(await range.all({ lo: 10, hi: 11 })).toEqual([{ id: 10 }, { id: 11 }]);
  });

  test('a failed step (a constraint) leaves the statement usable; bad parameters are refused', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const insert = await db.prepare('INSERT INTO t VALUES (?)');
    await insert.run([1]);
    await expect(insert.run([1])).rejects.toMatchObject({ code: SQLITE_CONSTRAINT });
    await expect(insert.run([])).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    expect(await insert.run([2])).toMatchObject({ changes: 1 });
    expect(await db.all('SELECT id FROM t')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  test('other calls on a statement while its iterate() is unfinished are refused; the loop goes on', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)');
    const all = await db.prepare<{ id: number }>('SELECT id FROM t ORDER BY id');
    const seen: number[] = [];
    for await (const row of all.iterate()) {
      seen.push(row.id);
      await expect(all.get()).rejects.toThrow(/in use by an iterate/);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(await all.get()).toEqual({ id: 1 });
  });

  test('a schema change is seen by a statement prepared before it', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    const star = await db.prepare('SELECT * FROM t');
    expect(await star.all()).toEqual([{ x: 1 }]);
    await db.exec('ALTER TABLE t ADD COLUMN y DEFAULT 2');
    expect(await star.all()).toEqual([{ x: 1, y: 2 }]);
  });

  test('finalize, close and bad SQL', async () => {
    const store = new MemoryStore();
    const db = await open({ store });
    await db.exec('CREATE TABLE t (x)');
    await expect(db.prepare('SELECT * FROM nowhere')).rejects.toMatchObject({ code: SQLITE_ERROR });
    await expect(db.prepare('SELECT 1; SELECT 2')).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    await expect(db.prepare(42 as unknown as string)).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    const one = await db.prepare('SELECT 1 AS n');
    await one.finalize();
    await one.finalize(); // harmless twice
    await expect(one.get()).rejects.toThrow(/finalized/);
    const kept = await db.prepare('INSERT INTO t VALUES (?)'); // left for close() to finalise
    await kept.run([1]);
    await db.close();
    // Rejections, not throws: each method hands on the promise of the call it makes.
    await expect(kept.run([2])).rejects.toThrow(/closed/);
    await expect(kept.get([2])).rejects.toThrow(/closed/);
    await expect(kept.all([2])).rejects.toThrow(/closed/);
    await kept.finalize(); // harmless after close
    const again = await open({ store });
    expect(await again.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
  });

  test("inside transaction(): a statement's calls join the transaction, and roll back with it", async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (x)');
    const insert = await db.prepare('INSERT INTO t VALUES (?)');
    await db.transaction(async () => {
      await insert.run([1]);
      await insert.run([2]);
    });
    await expect(
      db.transaction(async () => {
        await insert.run([3]);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 1 }, { x: 2 }]);
  });
});
