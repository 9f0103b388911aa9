import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicFormat } from '@blockvfs/core/format';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, type BlockStore, type Layout } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserialize, serialize } from '@blockvfs/serialize';
import { asReplacing, blockSizes, CHECK_QUERIES, chunks, concat, makeShellDatabase, sha256, shell, shellRows } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-serialize-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STORES: [string, () => BlockStore][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['FsStore', () => new FsStore({ root: mkdtempSync(join(dir, 'fs-store-')) })],
];

const LAYOUTS: Layout[] = ['atomic', 'direct'];

/** How the file is stored: its block sizes (direct layout), or its commits and block size (atomic). */
async function stored(store: BlockStore, name: string, layout: Layout): Promise<{ blocks: number[] } | { commits: string[]; blockSize: number }> {
  if (layout === 'direct') return { blocks: await blockSizes(store, name) };
  const commits: string[] = [];
  for await (const entry of store.list(`${name}/log/`)) commits.push(entry.key);
  return { commits, blockSize: (await AtomicFormat.open(store, name, { blockSize: 1 })).blockSize };
}

describe.each(LAYOUTS.flatMap((layout) => [512, 4096, 65536].map((pageSize) => ({ layout, pageSize }))))(
  '$layout layout: a database made by the sqlite3 shell, page size $pageSize',
  ({ layout, pageSize }) => {
    const path = join(dir, `shell-${layout}-${pageSize}.sqlite`);
    let original: Uint8Array;
    let expected: Record<string, unknown>[][];
    beforeAll(() => {
      original = makeShellDatabase(path, pageSize);
      expected = CHECK_QUERIES.map((sql) => shellRows(path, sql));
    });

    it.each([
      [1, 'file'],
      [7, 'file'],
      [4096, 'file'],
      [Infinity, 'file'],
      [7, 'memory'],
      [Infinity, 'memory'],
    ] as const)('deserialises from chunks of %s bytes (spool: %s) and serialises back byte for byte', async (chunkSize, spool) => {
      const store = new MemoryStore();
      const source = chunkSize === Infinity ? [original] : chunks(original, chunkSize);
      const result = await deserialize({ store, name: 'books.db', source, layout, spool });
      const commit = layout === 'atomic' ? { commit: 1 } : {};
      expect(result).toEqual({ bytes: original.length, pages: original.length / pageSize, pageSize, convertedFromWal: false, ...commit });
      // Default block size: in the direct layout the page size, one object per page; in the atomic one DEFAULT_BLOCK_SIZE, one commit.
      expect(await stored(store, 'books.db', layout)).toEqual(
        layout === 'direct'
          ? { blocks: Array(original.length / pageSize).fill(pageSize) }
          : { commits: ['books.db/log/000000000001'], blockSize: DEFAULT_BLOCK_SIZE },
      );
      expect(sha256(await concat(serialize({ store, name: 'books.db', layout })))).toBe(sha256(original));
    });

    it.each(STORES)('on %s: opens with openDatabase with the rows the shell gives, and serialises back', async (_, makeStore) => {
      const store = makeStore();
      await deserialize({ store, name: 'books.db', source: chunks(original, 4096), layout });
      const db = await openDatabase({ store, name: 'books.db', blockSize: pageSize, readOnly: true, layout });
      try {
        for (const [i, sql] of CHECK_QUERIES.entries()) expect(await db.all(sql)).toEqual(expected[i]);
        expect(await db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      } finally {
        await db.close();
      }
      expect(sha256(await concat(serialize({ store, name: 'books.db', layout })))).toBe(sha256(original));
    });
  },
);

it("spool 'memory' keeps copies of the chunks: a source that reuses one Buffer for every chunk imports what it read", async () => {
  const original = makeShellDatabase(join(dir, 'reused-buffer.sqlite'), 4096, 200);
  /** One Buffer, refilled for each chunk, as a stream reading into a fixed buffer yields it. */
  function* reused(): Generator<Uint8Array> {
    const buffer = Buffer.alloc(4096);
    for (let at = 0; at < original.length; at += buffer.length) {
      buffer.set(original.subarray(at, at + buffer.length));
      yield buffer;
    }
  }
  for (const spool of ['file', 'memory'] as const) {
    const store = new MemoryStore();
    await deserialize({ store, name: 'db', source: reused(), spool });
    expect(sha256(await concat(serialize({ store, name: 'db' }))), `spool ${spool}`).toBe(sha256(original));
  }
});

describe.each(LAYOUTS)('%s layout: block size other than the page size', (layout) => {
  const pageSize = 4096;
  let original: Uint8Array;
  beforeAll(() => {
    original = makeShellDatabase(join(dir, `block-sizes-${layout}.sqlite`), pageSize, 1000);
  });

  it.each([
    ['smaller, dividing the page', 1024],
    ['smaller, not dividing the page', 1000],
    ['smaller than the SQLite header', 64],
    ['larger, a multiple of the page', 16384],
    ['larger, not a multiple', 10_000],
    ['larger than the whole file: the largest allowed', MAX_BLOCK_SIZE],
  ])('%s (%i) round-trips and opens', async (_, blockSize) => {
    const store = new MemoryStore();
    await deserialize({ store, name: 'db', source: chunks(original, 3333), blockSize, layout });
    const shape = await stored(store, 'db', layout);
    if ('blocks' in shape) {
      const sizes = shape.blocks;
      expect(sizes.length).toBe(Math.ceil(original.length / blockSize));
      expect(sizes.slice(0, -1).every((size) => size === blockSize)).toBe(true);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(original.length);
    } else {
      expect(shape).toEqual({ commits: ['db/log/000000000001'], blockSize });
    }
    expect(sha256(await concat(serialize({ store, name: 'db', layout })))).toBe(sha256(original));
    const db = await openDatabase({ store, name: 'db', blockSize: Math.min(blockSize, original.length), readOnly: true, layout });
    try {
      expect(await db.get('SELECT count(*) AS n FROM books')).toEqual({ n: 1000 });
    } finally {
      await db.close();
    }
  });
});

describe.each(LAYOUTS)('%s layout: a WAL-mode database file', (layout) => {
  it('is stored in rollback-journal mode, opens with the rows the shell gives, and exports as a file the shell reads', async () => {
    const path = join(dir, `wal-${layout}.sqlite`);
    shell(path, "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two');");
    const original = new Uint8Array(readFileSync(path));
    expect([original[18], original[19]]).toEqual([2, 2]); // the shell checkpointed at exit: the main file holds every row
    const store = new MemoryStore();
    const result = await deserialize({ store, name: 'wal.db', source: [original], layout });
    expect(result.convertedFromWal).toBe(true);
    const db = await openDatabase({ store, name: 'wal.db', layout });
    try {
      expect(await db.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'one' }, { v: 'two' }]);
      expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'delete' });
      await db.run("INSERT INTO t (v) VALUES ('three')");
      expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await db.close();
    }
    const exported = await concat(serialize({ store, name: 'wal.db', layout }));
    expect([exported[18], exported[19]]).toEqual([1, 1]);
    const copy = join(dir, `wal-${layout}-exported.sqlite`);
    writeFileSync(copy, exported);
    expect(shellRows(copy, 'SELECT v FROM t ORDER BY id')).toEqual([{ v: 'one' }, { v: 'two' }, { v: 'three' }]);
  });
});

describe('the layout a database was written in', () => {
  it('serialize reads, and deserialize replaces, a database in its own layout whatever `layout` says', async () => {
    const original = makeShellDatabase(join(dir, 'layouts.sqlite'), 4096, 200);
    const store = new MemoryStore();
    await deserialize({ store, name: 'direct.db', source: [original], layout: 'direct' });
    await deserialize({ store, name: 'atomic.db', source: [original] });
    // Read with the other layout named: the same bytes.
    expect(sha256(await concat(serialize({ store, name: 'direct.db' })))).toBe(sha256(original));
    expect(sha256(await concat(serialize({ store, name: 'atomic.db', layout: 'direct' })))).toBe(sha256(original));
    // Replaced with the other layout named: still one database, in its own layout.
    const smaller = makeShellDatabase(join(dir, 'layouts-smaller.sqlite'), 4096, 50);
    await deserialize({ store, name: 'direct.db', source: [smaller] });
    await deserialize({ store, name: 'atomic.db', source: [smaller], layout: 'direct' });
    const keys: string[] = [];
    for await (const entry of store.list('')) keys.push(entry.key);
    expect(keys.filter((key) => key.startsWith('direct.db/')).every((key) => /^direct\.db\/\d{10}$/.test(key))).toBe(true);
    expect(keys.filter((key) => key.startsWith('atomic.db/')).every((key) => /^atomic\.db\/(log|blocks|head)/.test(key))).toBe(true);
    for (const name of ['direct.db', 'atomic.db']) expect(sha256(await concat(serialize({ store, name })))).toBe(sha256(asReplacing(smaller, original)));
  });
});
