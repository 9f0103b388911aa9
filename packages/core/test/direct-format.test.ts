import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { isBlockVfsError, withMetrics } from '@blockvfs/core';
import { DirectFormat, PagedFile, directBlockKey } from '@blockvfs/core/format';
import { withFaults } from '@blockvfs/core/testing';
import { expectSameBytes, objectSizes, pattern } from './helpers.js';

/** Writes `bytes` as sqlite-s3vfs would: `<name>/<10-digit index>`, every block full but the last. */
async function writeLikeS3vfs(store: MemoryStore, name: string, bytes: Uint8Array, blockSize: number): Promise<void> {
  for (let i = 0; i * blockSize < bytes.length; i++) {
    await store.put(`${name}/${String(i).padStart(10, '0')}`, bytes.slice(i * blockSize, (i + 1) * blockSize));
  }
}

async function openFile(store: MemoryStore, name: string, blockSize: number): Promise<PagedFile> {
  return new PagedFile(await DirectFormat.open(store, name, { blockSize }));
}

describe('directBlockKey', () => {
  it('is the file name, a slash and the block index in 10 zero-padded digits', () => {
    expect(directBlockKey('db', 0)).toBe('db/0000000000');
    expect(directBlockKey('db', 3)).toBe('db/0000000003');
    expect(directBlockKey('dir/app.sqlite', 1234567)).toBe('dir/app.sqlite/0001234567');
    expect(directBlockKey('db', 9_999_999_999)).toBe('db/9999999999');
  });
});

describe('DirectFormat', () => {
  it('stores exactly sqlite-s3vfs’s objects: every block full but the last', async () => {
    const store = new MemoryStore();
    const file = await openFile(store, 'dir/app.sqlite', 4096);
    await file.write(pattern(10_000, 1), 0);
    await file.sync();
    expect(await objectSizes(store, '')).toEqual([
      ['dir/app.sqlite/0000000000', 4096],
      ['dir/app.sqlite/0000000001', 4096],
      ['dir/app.sqlite/0000000002', 1808],
    ]);
    expectSameBytes(await store.get('dir/app.sqlite/0000000001'), pattern(10_000, 1).subarray(4096, 8192));
  });

  it('opens a file written the sqlite-s3vfs way, with its size the sum of the object sizes', async () => {
    const store = new MemoryStore();
    const bytes = pattern(3 * 1024 + 100, 2);
    await writeLikeS3vfs(store, 'legacy.db', bytes, 1024);
    const file = await openFile(store, 'legacy.db', 1024);
    expect(file.size).toBe(bytes.length);
    const read = new Uint8Array(bytes.length);
    expect(await file.read(read, 0)).toBe(bytes.length);
    expectSameBytes(read, bytes);
  });

  it('ignores objects under the name that are not its blocks (other files, a journal)', async () => {
    const store = new MemoryStore();
    await writeLikeS3vfs(store, 'db', pattern(5000, 3), 4096);
    await store.put('db/journal/0000000000', new Uint8Array(10));
    await store.put('db/notes', new Uint8Array(10));
    await writeLikeS3vfs(store, 'db-journal', pattern(100, 4), 4096);
    expect((await openFile(store, 'db', 4096)).size).toBe(5000);
  });

  it('keeps the block size an existing file was written with, whatever size was asked for', async () => {
    const store = new MemoryStore({ name: 'mem-bs' });
    const bytes = pattern(3 * 4096 + 1, 5);
    await writeLikeS3vfs(store, 'db', bytes, 4096);
    for (const asked of [512, 8192]) {
      const format = await DirectFormat.open(store, 'db', { blockSize: asked });
      expect(format.blockSize).toBe(4096);
      const file = new PagedFile(format);
      const read = new Uint8Array(bytes.length);
      expect(await file.read(read, 0)).toBe(bytes.length);
      expect(read).toEqual(bytes);
    }
  });

  it('refuses a one-block file whose block is larger than the block size asked for', async () => {
    const store = new MemoryStore();
    await store.put(directBlockKey('db', 0), pattern(4096, 6));
    await expect(DirectFormat.open(store, 'db', { blockSize: 512 })).rejects.toThrow(/block size of at least 4096, but block size 512/);
    // A shorter single block fits any block size: it is the whole file.
    const file = await openFile(store, 'db', 8192);
    expect(file.size).toBe(4096);
    await file.write(pattern(100, 7), 8000);
    await file.sync();
    expect(await objectSizes(store, 'db/')).toEqual([['db/0000000000', 8100]]);
  });

  it('opens a file with gaps (left by an interrupted commit), reads them as zeros, and fills them at the next commit', async () => {
    const store = new MemoryStore();
    await store.put(directBlockKey('gap', 1), pattern(512, 1));
    await store.put(directBlockKey('gap', 3), pattern(512, 3));
    await store.put(directBlockKey('gap', 5), pattern(100, 5));
    const file = await openFile(store, 'gap', 512);
    expect(file.size).toBe(5 * 512 + 100); // where the last block ends
    const expected = new Uint8Array(5 * 512 + 100);
    expected.set(pattern(512, 1), 512);
    expected.set(pattern(512, 3), 3 * 512);
    expected.set(pattern(100, 5), 5 * 512);
    const bytes = new Uint8Array(file.size);
    await file.read(bytes, 0);
    expectSameBytes(bytes, expected);
    await file.write(pattern(10, 9), 3 * 512 + 7); // any commit heals
    expected.set(pattern(10, 9), 3 * 512 + 7);
    await file.sync();
    expect(await objectSizes(store, 'gap/')).toEqual([0, 1, 2, 3, 4, 5].map((i) => [directBlockKey('gap', i), i < 5 ? 512 : 100]));
    const reopened = await openFile(store, 'gap', 512);
    await reopened.read(bytes, 0);
    expectSameBytes(bytes, expected);
  });

  it('refuses a file with a short block in the middle', async () => {
    const store = new MemoryStore();
    await store.put(directBlockKey('short', 0), new Uint8Array(512));
    await store.put(directBlockKey('short', 1), new Uint8Array(100));
    await store.put(directBlockKey('short', 2), new Uint8Array(512));
    const error = await DirectFormat.open(store, 'short', { blockSize: 512 }).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
    expect((error as Error).message).toMatch(/block short\/0000000001 has 100 bytes, but its other blocks have 512/);
  });

  it('refuses a last block larger than the full ones', async () => {
    const store = new MemoryStore();
    await store.put(directBlockKey('db', 0), new Uint8Array(512));
    await store.put(directBlockKey('db', 1), new Uint8Array(600));
    await expect(DirectFormat.open(store, 'db', { blockSize: 512 })).rejects.toThrow(/blocks of 512 bytes but a last block of 600/);
  });

  /**
   * Every way a commit can stop partway (request n fails, or fails after it happened;
   * alone, or with every request after it as when the process dies) leaves a file that
   * opens, whose every block holds its old bytes, its new bytes or zeros.
   */
  describe.each([
    ['grows from a partial last block', 512 + 100, 5 * 512 + 50],
    ['grows from a full last block', 2 * 512, 5 * 512],
    ['shrinks to a partial last block', 6 * 512 + 10, 2 * 512 + 100],
    ['shrinks to nothing', 3 * 512, 0],
  ])('a commit that %s and stops at any request', (_, oldSize, newSize) => {
    it.each([
      ['fail', 'crash'],
      ['fail-after', 'crash'],
      ['fail', 'single'],
      ['fail-after', 'single'],
    ] as const)('mode %s, %s', async (mode, stop) => {
      const bs = 512;
      const before = pattern(oldSize, 1);
      const after = pattern(newSize, 2);
      for (let n = 1; ; n++) {
        const store = new MemoryStore();
        const seed = await openFile(store, 'db', bs);
        await seed.write(before, 0);
        await seed.sync();
        // 'crash': request n and all after it fail (the process died); 'single': only request n fails, the parallel others land.
        const at = stop === 'crash' ? Array.from({ length: 100 }, (_, i) => n + i) : n;
        const crashing = withFaults(store, { at, mode, ops: ['put', 'delete'] });
        const file = new PagedFile(await DirectFormat.open(crashing, 'db', { blockSize: bs }));
        await file.truncate(newSize);
        await file.write(after, 0);
        const failed = await file.sync().then(
          () => false,
          () => true,
        );
        const reopened = await openFile(store, 'db', bs);
        const bytes = new Uint8Array(reopened.size);
        await reopened.read(bytes, 0);
        for (let i = 0; i * bs < bytes.length; i++) {
          const block = bytes.subarray(i * bs, (i + 1) * bs);
          const candidates = [before, after, new Uint8Array(0)].map((source) => {
            const expected = new Uint8Array(block.length);
            expected.set(source.subarray(i * bs, i * bs + block.length));
            return expected;
          });
          const matches = candidates.some((c) => Buffer.from(c).equals(Buffer.from(block)));
          expect(matches, `fault at request ${n}: block ${i} holds neither old, new nor zero bytes`).toBe(true);
        }
        if (!failed) {
          expect(reopened.size).toBe(newSize);
          break; // n is past the last request of the commit
        }
        // The retried commit makes the file whole again.
        await reopened.truncate(newSize);
        await reopened.write(after, 0);
        await reopened.sync();
        expect(await objectSizes(store, 'db/')).toEqual(
          Array.from({ length: Math.ceil(newSize / bs) }, (_, i) => [directBlockKey('db', i), Math.min(bs, newSize - i * bs)]),
        );
      }
    });
  });

  it('refuses a block size that is not a positive integer', async () => {
    for (const blockSize of [0, -1, 1.5, Number.NaN]) {
      await expect(DirectFormat.open(new MemoryStore(), 'db', { blockSize })).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    }
  });

  it('skips the listing when the size is known', async () => {
    const store = withMetrics(new MemoryStore());
    const format = await DirectFormat.open(store, 'db', { blockSize: 4096, knownSize: 0 });
    expect(format.size).toBe(0);
    expect(store.metrics.list).toBe(0);
    await DirectFormat.open(store, 'db', { blockSize: 4096 });
    expect(store.metrics.list).toBe(1);
  });

  it('tells whether a file exists, and deletes all its blocks', async () => {
    const store = new MemoryStore();
    expect(await DirectFormat.exists(store, 'db')).toBe(false);
    await writeLikeS3vfs(store, 'db', pattern(9000, 8), 4096);
    await writeLikeS3vfs(store, 'db2', pattern(10, 8), 4096);
    expect(await DirectFormat.exists(store, 'db')).toBe(true);
    await DirectFormat.delete(store, 'db');
    expect(await DirectFormat.exists(store, 'db')).toBe(false);
    expect(await objectSizes(store, '')).toEqual([['db2/0000000000', 10]]);
    await DirectFormat.delete(store, 'db2', 10, 4096); // by known size, without listing
    expect(await objectSizes(store, '')).toEqual([]);
    await DirectFormat.delete(store, 'never-was');
  });
});

describe('DirectFormat with a stray block far past the others', () => {
  it('opens at once (gaps are kept as ranges, not enumerated)', async () => {
    const store = new MemoryStore();
    await store.put(directBlockKey('db', 0), new Uint8Array(512));
    await store.put(directBlockKey('db', 9_999_999_999), new Uint8Array(10));
    const format = await DirectFormat.open(store, 'db', { blockSize: 512 });
    expect(format.size).toBe(9_999_999_999 * 512 + 10);
  });
});
