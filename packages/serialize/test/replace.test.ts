import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBlockVfsError, type BlockStore } from '@blockvfs/core';
import { withFaults } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { changeCounterOf } from '@blockvfs/core/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserialize, serialize, type DeserializeProgress, type SerializeProgress } from '@blockvfs/serialize';
import { asReplacing, blockSizes, chunks, concat, makeHotJournal, makeShellDatabase, putFile, sha256, snapshot } from './helpers.js';

/** deserialize onto a name that already holds a database: the new one replaces it entirely. */

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-serialize-replace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let big: Uint8Array;
let small: Uint8Array;
beforeAll(() => {
  big = makeShellDatabase(join(dir, 'big.sqlite'), 1024, 2000);
  small = makeShellDatabase(join(dir, 'small.sqlite'), 4096, 100);
});

it('replaces a larger database written with another block size, leaving none of its blocks', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [big], blockSize: 1000 });
  await store.put('db/nested/0000000000', new Uint8Array([7])); // another file under the same prefix: not ours to delete
  await deserialize({ layout: 'direct', store, name: 'db', source: [small] });
  expect(await blockSizes(store, 'db')).toEqual([...Array(small.length / 4096).fill(4096), 1]);
  expect([...(await snapshot(store)).keys()].filter((key) => key.startsWith('db/00')).length).toBe(small.length / 4096);
  expect(sha256(await concat(serialize({ layout: 'direct', store, name: 'db' })))).toBe(sha256(asReplacing(small, big)));
  const db = await openDatabase({ layout: 'direct', store, name: 'db', readOnly: true });
  try {
    expect(await db.get('SELECT count(*) AS n FROM books')).toEqual({ n: 100 });
  } finally {
    await db.close();
  }
});

it('replaces a smaller database with a larger one', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [small] });
  await deserialize({ layout: 'direct', store, name: 'db', source: [big] });
  expect(sha256(await concat(serialize({ layout: 'direct', store, name: 'db' })))).toBe(sha256(asReplacing(big, small)));
});

it('deletes a stale hot journal, which SQLite would otherwise play back onto the new pages', async () => {
  const store = new MemoryStore();
  // The old database, caught by a crash mid-commit: its hot journal holds old pages.
  await deserialize({ layout: 'direct', store, name: 'db', source: [big] });
  await putFile(store, 'db-journal', makeHotJournal(join(dir, 'big.sqlite')), 4096); // the block size the new database is opened with
  await deserialize({ layout: 'direct', store, name: 'db', source: [small] });
  expect([...(await snapshot(store)).keys()].filter((key) => key.startsWith('db-journal'))).toEqual([]);
  const db = await openDatabase({ layout: 'direct', store, name: 'db' });
  try {
    expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(await db.get('SELECT count(*) AS n FROM books')).toEqual({ n: 100 });
  } finally {
    await db.close();
  }
  expect(sha256(await concat(serialize({ layout: 'direct', store, name: 'db' })))).toBe(sha256(asReplacing(small, big)));
});

it.each(['file', 'memory'] as const)('reports progress: reading, then writing up to the total (spool: %s)', async (spool) => {
  const events: DeserializeProgress[] = [];
  // Several MiB, so that reading reports more than once (about once per MiB).
  const padded = makeShellDatabase(join(dir, `padded-${spool}.sqlite`), 65536, 3000);
  expect(padded.length).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  await deserialize({
    layout: 'direct',
    store: new MemoryStore(),
    name: 'db',
    source: chunks(padded, 65536),
    spool,
    onProgress: (event) => events.push(event),
  });
  const reading = events.filter((event) => event.phase === 'reading');
  expect(reading.length).toBeGreaterThanOrEqual(2);
  const writing = events.filter((event) => event.phase === 'writing');
  expect(events.indexOf(writing[0]!)).toBe(reading.length); // all reading events come first
  expect(reading.at(-1)).toEqual({ phase: 'reading', bytes: padded.length });
  expect(writing.at(-1)).toEqual({ phase: 'writing', bytes: padded.length, totalBytes: padded.length });
  for (const list of [reading, writing]) expect(list.every((event, i) => i === 0 || event.bytes > list[i - 1]!.bytes)).toBe(true);
});

it.each(['atomic', 'direct'] as const)(
  '%s layout: writing progress never runs ahead of what the store confirmed; serialize reports the bytes it read',
  async (layout) => {
    const padded = makeShellDatabase(join(dir, `progress-${layout}.sqlite`), 4096, 3000);
    const memory = new MemoryStore();
    let confirmed = 0; // bytes of block objects the store has acknowledged
    const store: BlockStore = {
      name: memory.name,
      capabilities: memory.capabilities,
      get: (key, range) => memory.get(key, range),
      put: async (key, data, condition) => {
        const result = await memory.put(key, data, condition);
        if (!key.includes('/log/') && !key.endsWith('/head')) confirmed += data.length;
        return result;
      },
      delete: (keys) => memory.delete(keys),
      list: (prefix, options) => memory.list(prefix, options),
    };
    const writing: DeserializeProgress[] = [];
    await deserialize({
      layout,
      store,
      name: 'db',
      source: [padded],
      onProgress: (event) => {
        if (event.phase !== 'writing') return;
        writing.push(event);
        expect(event.bytes).toBeLessThanOrEqual(confirmed);
      },
    });
    expect(writing.length).toBeGreaterThan(1);
    expect(writing.at(-1)).toEqual({ phase: 'writing', bytes: padded.length, totalBytes: padded.length });
    expect(writing.every((event, i) => i === 0 || event.bytes >= writing[i - 1]!.bytes)).toBe(true);

    const read: SerializeProgress[] = [];
    const bytes = await concat(serialize({ layout, store, name: 'db', onProgress: (event) => read.push(event) }));
    expect(sha256(bytes)).toBe(sha256(padded));
    expect(read.at(-1)).toEqual({ bytes: padded.length, totalBytes: padded.length });
    expect(read.every((event, i) => i === 0 || event.bytes > read[i - 1]!.bytes)).toBe(true);
  },
);

it('a store failure while writing a new database deletes what was written, and says so', async () => {
  const memory = new MemoryStore();
  const store = withFaults(memory, { ops: ['put'], at: 5 });
  const error: unknown = await deserialize({ layout: 'direct', store, name: 'db', source: [big] }).catch((e: unknown) => e);
  expect(isBlockVfsError(error, 'transient')).toBe(true);
  expect((error as Error).message).toMatch(/writing database "db" failed after \d+ of \d+ bytes: .*what was written has been deleted/);
  expect(await snapshot(memory)).toEqual(new Map());
});

it('a store failure while replacing a database says that it may now be a mix, and a retry repairs it', async () => {
  const memory = new MemoryStore();
  await deserialize({ layout: 'direct', store: memory, name: 'db', source: [small] });
  const store = withFaults(memory, { ops: ['put'], at: 5 });
  const error: unknown = await deserialize({ layout: 'direct', store, name: 'db', source: [big] }).catch((e: unknown) => e);
  expect(isBlockVfsError(error, 'transient')).toBe(true);
  expect((error as Error).message).toMatch(/may now mix pages of the old and the new database/);
  await deserialize({ layout: 'direct', store: memory, name: 'db', source: [big] });
  // The counter moved past the mix's: one past the first try's, which was one past both files'.
  expect(sha256(await concat(serialize({ layout: 'direct', store: memory, name: 'db' })))).toBe(sha256(asReplacing(big, asReplacing(big, small))));
});

describe.each(['atomic', 'direct'] as const)('%s layout: a connection open on the database an import replaces', (layout) => {
  it('reads the new database at its next statement, and its next write keeps it, even when both files have the same change counter', async () => {
    const store = new MemoryStore();
    const writer = await openDatabase({ layout, store, name: 'db', blockSize: 4096 });
    await writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'old'), (2, 'old')");
    await writer.close();
    const reader = await openDatabase({ layout, store, name: 'db' });
    expect(await reader.all('SELECT v FROM t')).toEqual([{ v: 'old' }, { v: 'old' }]); // its page cache holds the old pages
    const old = await concat(serialize({ layout, store, name: 'db' }));
    // Another database whose change counter is the old one's: SQLite would keep the old pages for it.
    const other = await openDatabase({ layout, store, name: 'other', blockSize: 4096 });
    await other.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'new'), (2, 'new'), (3, 'new')");
    await other.close();
    const file = await concat(serialize({ layout, store, name: 'other' }));
    new DataView(file.buffer).setUint32(24, changeCounterOf(old) as number);
    new DataView(file.buffer).setUint32(92, changeCounterOf(old) as number);
    await deserialize({ layout, store, name: 'db', source: [file] });
    expect(changeCounterOf(await concat(serialize({ layout, store, name: 'db' })))).toBe((changeCounterOf(old) as number) + 1);
    expect(await reader.all('SELECT v FROM t')).toEqual([{ v: 'new' }, { v: 'new' }, { v: 'new' }]);
    await reader.run("INSERT INTO t VALUES (4, 'after')");
    await reader.close();
    const fresh = await openDatabase({ layout, store, name: 'db' });
    try {
      expect(await fresh.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'new' }, { v: 'new' }, { v: 'new' }, { v: 'after' }]);
      expect(await fresh.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await fresh.close();
    }
  });
});

it('atomic layout: an import is refused while another writer holds the writer lease, before uploading anything, and goes through once it is released', async () => {
  const memory = new MemoryStore();
  const holder = await openDatabase({ store: memory, name: 'db', lease: true });
  await holder.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')"); // takes the lease
  const before = await snapshot(memory);
  const error: unknown = await deserialize({ store: memory, name: 'db', source: [small] }).catch((e: unknown) => e);
  expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
  expect((error as Error).message).toMatch(/importing database "db" failed, and the database is as it was .*lease/);
  expect(await snapshot(memory)).toEqual(before);
  expect(await holder.all('SELECT v FROM t')).toEqual([{ v: 'kept' }]);
  await holder.close(); // releases it
  await deserialize({ store: memory, name: 'db', source: [small] });
  const db = await openDatabase({ store: memory, name: 'db' });
  try {
    expect(await db.get('SELECT count(*) AS n FROM books')).toEqual({ n: 100 });
  } finally {
    await db.close();
  }
});
