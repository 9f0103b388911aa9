import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBlockVfsError, type BlockStore } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { MemoryStore } from '@blockvfs/store-memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserialize, type ChunkSource } from '@blockvfs/serialize';
import { chunks, makeShellDatabase, snapshot } from './helpers.js';

/**
 * Every kind of bad input is refused before the store is touched: the store must be
 * exactly as it was, whether `name` was free or held a database (and its journal).
 */

const dir = mkdtempSync(join(tmpdir(), 'blockvfs-serialize-bad-'));
// deserialize spools under os.tmpdir(), which follows TMPDIR: a folder of our own shows that the spool is removed.
const spoolDir = join(dir, 'spool');
const savedTmpdir = process.env.TMPDIR;
let good: Uint8Array;
let existing: Uint8Array;
beforeAll(() => {
  good = makeShellDatabase(join(dir, 'good.sqlite'), 1024, 500);
  existing = makeShellDatabase(join(dir, 'existing.sqlite'), 4096, 50);
  mkdirSync(spoolDir);
  process.env.TMPDIR = spoolDir;
});
afterAll(() => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  rmSync(dir, { recursive: true, force: true });
});

/** `bytes` with the big-endian field at `offset` set to `value`. */
function patched(bytes: Uint8Array, offset: number, value: number, width: 2 | 4): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  if (width === 2) view.setUint16(offset, value);
  else view.setUint32(offset, value);
  return copy;
}

async function* failingAfter(bytes: Uint8Array, chunkSize: number, failAt: number, error: Error): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for (const chunk of chunks(bytes, chunkSize)) {
    if (sent >= failAt) throw error;
    sent += chunk.length;
    yield chunk;
  }
}

const sourceError = new Error('connection reset by peer');

interface BadCase {
  what: string;
  source: () => ChunkSource;
  message: RegExp;
  cause?: unknown;
}

const cases: BadCase[] = [
  { what: 'an empty stream', source: () => [], message: /is not an SQLite database: it is empty/ },
  { what: 'an empty stream of empty chunks', source: () => [new Uint8Array(0), new Uint8Array(0)], message: /it is empty/ },
  { what: 'a text file', source: () => [new TextEncoder().encode('id,name\n1,alice\n'.repeat(100))], message: /does not start with "SQLite format 3\\0"/ },
  { what: 'a short text file', source: () => [new TextEncoder().encode('hello')], message: /does not start with "SQLite format 3\\0"/ },
  { what: 'the magic string alone', source: () => chunks(good.subarray(0, 16), 1), message: /only 16 bytes long, shorter than the 100-byte header/ },
  { what: 'half a header', source: () => [good.subarray(0, 50)], message: /only 50 bytes long/ },
  {
    what: 'page size 1000 (not a power of two)',
    source: () => [patched(good, 16, 1000, 2)],
    message: /page size 1000 .* not a power of two from 512 to 65536/,
  },
  { what: 'page size 256 (too small)', source: () => [patched(good, 16, 256, 2)], message: /page size 256 / },
  { what: 'page size 0', source: () => [patched(good, 16, 0, 2)], message: /page size 0 / },
  { what: 'a length that is not whole pages', source: () => [good, new Uint8Array(10)], message: /not a whole number of 1024-byte pages/ },
  {
    what: 'a stream cut short by one page',
    source: () => chunks(good.subarray(0, good.length - 1024), 999),
    message: /is truncated: its header says \d+ pages of 1024 bytes, but it holds only \d+/,
  },
  { what: 'a stream cut short to its first page', source: () => [good.subarray(0, 1024)], message: /is truncated/ },
  { what: 'a stream cut short mid-page', source: () => [good.subarray(0, good.length - 100)], message: /not a whole number of 1024-byte pages/ },
  {
    what: 'a source that throws midway',
    source: () => failingAfter(good, 4096, 8192, sourceError),
    message: /the source failed after 8192 bytes, nothing was written to the store: connection reset by peer/,
    cause: sourceError,
  },
  {
    what: 'a source that throws at once',
    source: () => failingAfter(good, 4096, 0, sourceError),
    message: /the source failed after 0 bytes/,
    cause: sourceError,
  },
  {
    what: 'a chunk that is a string',
    source: () => [good.subarray(0, 200), 'more' as unknown as Uint8Array],
    message: /must yield Uint8Array chunks .* got string after 200 bytes/,
  },
  { what: 'a source that is not iterable', source: () => ({}) as unknown as ChunkSource, message: /source must be an Iterable or AsyncIterable/ },
];

async function withDatabase(store: BlockStore): Promise<BlockStore> {
  await deserialize({ store, name: 'app.db', source: [existing] });
  // A hot journal of the existing database must survive a refused import too.
  await store.put('app.db-journal/0000000000', new Uint8Array([0xd9, 0xd5, 0x05, 0xf9, 1, 2, 3]));
  await store.put('other.db/0000000000', new Uint8Array([1, 2, 3])); // a neighbour, to see that nothing else moves
  return store;
}

const fsStore = (): BlockStore => new FsStore({ root: mkdtempSync(join(dir, 'fs-store-')) });

describe.each([
  ['MemoryStore, no database under the name', async (): Promise<BlockStore> => new MemoryStore()],
  ['MemoryStore, a database already under the name', () => withDatabase(new MemoryStore())],
  ['FsStore, no database under the name', async () => fsStore()],
  ['FsStore, a database already under the name', () => withDatabase(fsStore())],
])('deserialize refuses bad input, leaving the store as it was: %s', (_, makeStore) => {
  it.each(cases)('$what', async ({ source, message, cause }) => {
    const store = await makeStore();
    const before = await snapshot(store);
    const error: unknown = await deserialize({ store, name: 'app.db', source: source() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBlockVfsError(error, 'invalid'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/^@blockvfs\/serialize: /);
    expect((error as Error).message).toMatch(message);
    if (cause !== undefined) expect((error as Error).cause).toBe(cause);
    expect(await snapshot(store)).toEqual(before);
    expect(readdirSync(spoolDir), 'the temporary spool is removed').toEqual([]);
  });
});

it('a source that fails with a BlockVfsError keeps its kind (a transient store failure stays transient)', async () => {
  const store = new MemoryStore();
  const { BlockVfsError } = await import('@blockvfs/core');
  const failure = new BlockVfsError('transient', 'throttled', { source: '@blockvfs/store-s3', store: 's3:bucket' });
  const error: unknown = await deserialize({ store, name: 'x', source: failingAfter(good, 1000, 2000, failure) }).catch((e: unknown) => e);
  expect(isBlockVfsError(error, 'transient')).toBe(true);
  expect((error as Error).cause).toBe(failure);
  expect(await snapshot(store)).toEqual(new Map());
});

it('stops reading a source whose header is bad, without reading the rest', async () => {
  let pulled = 0;
  let returned = false;
  const source: Iterable<Uint8Array> = {
    [Symbol.iterator]: () => ({
      next: () => {
        pulled += 1;
        return { done: false, value: new Uint8Array(64).fill(65) };
      },
      return: () => {
        returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  await expect(deserialize({ store: new MemoryStore(), name: 'x', source })).rejects.toThrow(/does not start with "SQLite format 3/);
  expect(pulled).toBe(2); // 128 bytes: enough for the 100-byte header
  expect(returned).toBe(true);
});

it('accepts a stream shorter than the header page count when that count is stale, as SQLite does', async () => {
  // Version-valid-for (offset 92) differing from the change counter (24) means the count at 28 is not maintained.
  const stale = patched(good, 92, new DataView(good.buffer, good.byteOffset).getUint32(24) + 1, 4);
  const store = new MemoryStore();
  const result = await deserialize({ store, name: 'x', source: [stale.subarray(0, 2048)] });
  expect(result).toEqual({ bytes: 2048, pages: 2, pageSize: 1024, convertedFromWal: false, commit: 1 });
});

it('refuses bad options before reading anything', async () => {
  const store = new MemoryStore();
  await expect(deserialize({ store, name: 'x', source: [good], blockSize: 0 })).rejects.toThrow(/block size must be an integer of 1 to 16777216 bytes/);
  await expect(deserialize({ store, name: 'x', source: [good], blockSize: 16 * 1024 * 1024 + 1 })).rejects.toThrow(
    /block size must be an integer of 1 to 16777216 bytes/,
  );
  await expect(
    deserialize({ store: { name: 'no capabilities', get() {}, put() {}, delete() {}, list() {} } as never, name: 'x', source: [good] }),
  ).rejects.toThrow(/no "capabilities"/);
  await expect(deserialize({ store, name: '', source: [good] })).rejects.toThrow(/name must be a non-empty string/);
  await expect(deserialize({ store, name: 'x', source: [good], layout: 'nope' as 'direct' })).rejects.toThrow(/unknown layout "nope"/);
  await expect(deserialize({ store, name: 'x', source: [good], spool: 'disk' as 'file' })).rejects.toThrow(/spool must be 'file' or 'memory', got "disk"/);
  expect(await snapshot(store)).toEqual(new Map());
});
