import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockVfsError, isBlockVfsError, withMetrics, type BlockStore } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deserialize, serialize } from '@blockvfs/serialize';
import { concat, makeHotJournal, makeShellDatabase, putFile, sha256 } from './helpers.js';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-serialize-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let original: Uint8Array;
beforeAll(() => {
  original = makeShellDatabase(join(dir, 'db.sqlite'), 4096, 800);
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

it('yields one fresh chunk per block, which the consumer may keep', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original], blockSize: 5000 });
  const kept: Uint8Array[] = [];
  for await (const chunk of serialize({ layout: 'direct', store, name: 'db' })) kept.push(chunk); // no copies: a reused buffer would show
  expect(kept.length).toBe(Math.ceil(original.length / 5000));
  expect(kept.slice(0, -1).every((chunk) => chunk.length === 5000)).toBe(true);
  expect(new Set(kept.map((chunk) => chunk.buffer)).size).toBe(kept.length);
  expect(sha256(Buffer.concat(kept))).toBe(sha256(original));
});

it('reads each block once, plus the probes for the first block and the journal', async () => {
  const memory = new MemoryStore();
  await deserialize({ layout: 'direct', store: memory, name: 'db', source: [original] });
  const store = withMetrics(memory);
  await concat(serialize({ layout: 'direct', store, name: 'db' }));
  const blocks = original.length / 4096;
  // block 0 (to learn the block size), the journal probe, one list, then every block.
  expect(store.metrics.get).toBe(blocks + 2);
  expect(store.metrics.put).toBe(0);
});

it('stops cleanly when the consumer stops early', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original], blockSize: 512 });
  let seen = 0;
  for await (const chunk of serialize({ layout: 'direct', store, name: 'db' })) {
    seen += chunk.length;
    if (seen >= 2048) break;
  }
  expect(seen).toBe(2048);
});

it('a read ahead that fails while the consumer waits for an earlier block is its error to get, not an unhandled rejection', async () => {
  const memory = new MemoryStore();
  await deserialize({ store: memory, name: 'db', source: [original], blockSize: 4096 });
  const keys: string[] = [];
  for await (const entry of memory.list('db/blocks/')) keys.push(entry.key);
  const [, , slow, failing] = keys.sort(); // blocks 2 and 3: block 3's GET fails while block 2's is still on its way
  let releaseSlow = (): void => undefined;
  const store: BlockStore = {
    name: memory.name,
    capabilities: memory.capabilities,
    get: async (key, range) => {
      if (key === slow) await new Promise<void>((resolve) => (releaseSlow = resolve));
      if (key === failing) throw new BlockVfsError('transient', `GET ${key} failed`, { source: 'test' });
      return memory.get(key, range);
    },
    put: (key, data, condition) => memory.put(key, data, condition),
    delete: (keys) => memory.delete(keys),
    list: (prefix, options) => memory.list(prefix, options),
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const exporting = concat(serialize({ store, name: 'db' }));
    // Block 1's failure settles first, with nobody awaiting it yet: give Node its chance to call it unhandled.
    await new Promise((resolve) => setTimeout(resolve, 50));
    releaseSlow();
    const error = await failure(exporting);
    expect(isBlockVfsError(error, 'transient') && error.message).toContain('GET db/blocks/');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

it("refuses a name with no database: 'not-found'", async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original] });
  const error = await failure(concat(serialize({ layout: 'direct', store, name: 'missing.db' })));
  expect(isBlockVfsError(error, 'not-found')).toBe(true);
  expect(error.message).toBe('@blockvfs/serialize (memory): there is no database "missing.db" on this store');
});

it("refuses stored bytes that are not an SQLite database: 'invalid'", async () => {
  const store = new MemoryStore();
  await store.put('notes.txt/0000000000', new TextEncoder().encode('x'.repeat(4096)));
  await store.put('notes.txt/0000000001', new TextEncoder().encode('y'.repeat(100)));
  const error = await failure(concat(serialize({ layout: 'direct', store, name: 'notes.txt' })));
  expect(isBlockVfsError(error, 'invalid')).toBe(true);
  expect(error.message).toMatch(/the stored database "notes.txt" is not an SQLite database: it does not start with "SQLite format 3\\0"/);
});

it("refuses a stored database cut short (missing last blocks): 'invalid'", async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original] });
  const last = Math.ceil(original.length / 4096) - 1;
  await store.delete([`db/${String(last).padStart(10, '0')}`]);
  const error = await failure(concat(serialize({ layout: 'direct', store, name: 'db' })));
  expect(isBlockVfsError(error, 'invalid')).toBe(true);
  expect(error.message).toMatch(/is truncated: its header says \d+ pages/);
});

it('refuses a database with a hot journal, saying to open it once first; once opened, it exports', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original] });
  await putFile(store, 'db-journal', makeHotJournal(join(dir, 'db.sqlite')), 4096);
  const error = await failure(concat(serialize({ layout: 'direct', store, name: 'db' })));
  expect(isBlockVfsError(error, 'invalid')).toBe(true);
  expect(error.message).toMatch(/has a hot journal \("db-journal"\): the last writer stopped in the middle of a commit.*Open the database once/);
  // What the message advises: opening the database plays the journal back and deletes it.
  const db = await openDatabase({ layout: 'direct', store, name: 'db' });
  await db.get('SELECT count(*) FROM books');
  await db.close();
  expect(sha256(await concat(serialize({ layout: 'direct', store, name: 'db' })))).toBe(sha256(original));
});

it('exports despite a journal whose header is zeroed (journal_mode=PERSIST after a commit): it is not hot', async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original] });
  await store.put('db-journal/0000000000', new Uint8Array(512));
  expect(sha256(await concat(serialize({ layout: 'direct', store, name: 'db' })))).toBe(sha256(original));
});

it('refuses an unknown layout', async () => {
  const error = await failure(concat(serialize({ store: new MemoryStore(), name: 'db', layout: 'nope' as 'direct' })));
  expect(isBlockVfsError(error, 'invalid')).toBe(true);
});

it("refuses a database whose block 0 is missing (an interrupted write): 'invalid', not 'not-found'", async () => {
  const store = new MemoryStore();
  await deserialize({ layout: 'direct', store, name: 'db', source: [original] });
  await store.delete(['db/0000000000']);
  const error = await failure(concat(serialize({ layout: 'direct', store, name: 'db' })));
  expect(isBlockVfsError(error, 'invalid')).toBe(true);
  expect(error.message).toMatch(/has blocks but no block 0/);
});
