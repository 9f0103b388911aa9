import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { DirectFormat, PagedFile, directBlockKey, openPagedFile } from '@blockvfs/core/format';
import { isBlockVfsError, withMetrics, type BlockStore } from '@blockvfs/core';
import { withFaults } from '@blockvfs/core/testing';
import { expectSameBytes, objectSizes, pattern } from './helpers.js';

const BLOCK_SIZES = [1, 512, 4095, 4096, 4097, 65536];

async function open(store: BlockStore, blockSize: number, name = 'db'): Promise<PagedFile> {
  return new PagedFile(await DirectFormat.open(store, name, { blockSize }));
}

async function readAll(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  expect(await file.read(bytes, 0)).toBe(file.size);
  return bytes;
}

/** The objects a file of `size` bytes must have on the store: full blocks, then the rest. */
function expectedObjects(name: string, size: number, blockSize: number): Array<[string, number]> {
  const objects: Array<[string, number]> = [];
  for (let i = 0; i * blockSize < size; i++) objects.push([directBlockKey(name, i), Math.min(blockSize, size - i * blockSize)]);
  return objects;
}

describe.each(BLOCK_SIZES)('PagedFile over the direct layout, block size %i', (bs) => {
  // Sizes in blocks keep block size 1 small and 65536 meaningful.
  const size = 3 * bs + Math.ceil(bs / 3);

  it('writes and reads at any offset and length', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    const reference = new Uint8Array(size);
    const writes: Array<[offset: number, length: number]> = [
      [0, size], // spans several blocks
      [1, 1], // inside a block
      [Math.max(0, bs - 1), 2], // across a boundary
      [bs, bs], // exactly one block
      [Math.floor(bs / 2), 2 * bs], // partial, whole, partial
      [size - 1, 1], // the last byte
    ];
    for (const [index, [offset, length]] of writes.entries()) {
      const data = pattern(length, index + 1);
      await file.write(data, offset);
      reference.set(data, offset);
    }
    expect(file.size).toBe(size);
    expectSameBytes(await readAll(file), reference);
    for (const [offset, length] of writes) {
      const target = new Uint8Array(length);
      expect(await file.read(target, offset)).toBe(length);
      expectSameBytes(target, reference.subarray(offset, offset + length));
    }
    await file.sync();
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', size, bs));
    expectSameBytes(await readAll(await open(store, bs)), reference);
  });

  it('reads past the end as zeros and returns the short count', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    await file.write(pattern(size, 1), 0);
    const target = new Uint8Array(bs + 10).fill(0xee);
    expect(await file.read(target, size - 3)).toBe(3);
    expectSameBytes(target.subarray(0, 3), pattern(size, 1).subarray(size - 3));
    expect(target.subarray(3).every((b) => b === 0)).toBe(true);
    const beyond = new Uint8Array(7).fill(0xee);
    expect(await file.read(beyond, size + 100)).toBe(0);
    expect(beyond).toEqual(new Uint8Array(7));
    await file.sync();
    const reopened = await open(store, bs);
    const again = new Uint8Array(bs + 10).fill(0xee);
    expect(await reopened.read(again, size - 3)).toBe(3);
    expectSameBytes(again, target);
  });

  it('truncates: shrinks the last block on the store and deletes whole blocks past the end', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    await file.write(pattern(size, 2), 0);
    await file.sync();
    const newSize = bs + Math.ceil(bs / 2);
    await file.truncate(newSize);
    expect(file.size).toBe(newSize);
    await file.sync();
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', newSize, bs));
    expectSameBytes(await readAll(await open(store, bs)), pattern(size, 2).subarray(0, newSize));
    await file.truncate(bs);
    await file.sync();
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', bs, bs));
    await file.truncate(0);
    await file.sync();
    expect(await objectSizes(store, 'db/')).toEqual([]);
    expect((await open(store, bs)).size).toBe(0);
  });

  it('reads zeros where a file shrank then grew again', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    await file.write(pattern(size, 3), 0);
    await file.sync();
    const cut = Math.ceil(bs / 2);
    await file.truncate(cut); // not synced: the store still has the old bytes past `cut`
    await file.truncate(size);
    const expected = new Uint8Array(size);
    expected.set(pattern(size, 3).subarray(0, cut));
    expectSameBytes(await readAll(file), expected);
    await file.sync();
    expectSameBytes(await readAll(await open(store, bs)), expected);
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', size, bs));
  });

  it('grows past the end with a gap whose blocks exist on the store as zeros', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    const head = pattern(Math.ceil(bs / 2), 4);
    await file.write(head, 0);
    await file.sync();
    const offset = 3 * bs + 1;
    const tail = pattern(bs, 5);
    await file.write(tail, offset);
    const end = offset + tail.length;
    expect(file.size).toBe(end);
    await file.sync();
    const objects = await objectSizes(store, 'db/');
    expect(objects).toEqual(expectedObjects('db', end, bs));
    expect(objects.reduce((sum, [, n]) => sum + n, 0)).toBe(end); // how sqlite-s3vfs computes the size
    const expected = new Uint8Array(end);
    expected.set(head, 0);
    expected.set(tail, offset);
    expectSameBytes(await readAll(await open(store, bs)), expected);
  });

  it('grows by truncate with zeros', async () => {
    const store = new MemoryStore();
    const file = await open(store, bs);
    await file.write(pattern(3, 6), 0);
    await file.truncate(size);
    await file.sync();
    const expected = new Uint8Array(size);
    expected.set(pattern(3, 6));
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', size, bs));
    expectSameBytes(await readAll(await open(store, bs)), expected);
  });
});

describe('PagedFile', () => {
  it('is dirty until synced, and a sync with nothing to do makes no request', async () => {
    const store = withMetrics(new MemoryStore());
    const file = await open(store, 4096);
    expect(file.dirty).toBe(false);
    await file.write(pattern(10, 1), 0);
    expect(file.dirty).toBe(true);
    await file.sync();
    expect(file.dirty).toBe(false);
    store.resetMetrics();
    await file.sync();
    await file.truncate(file.size);
    await file.sync();
    expect(store.metrics).toMatchObject({ get: 0, put: 0, delete: 0, list: 0 });
  });

  it('commits one put per changed block, without reading blocks it overwrites whole', async () => {
    const store = withMetrics(new MemoryStore());
    const first = await open(store, 4096);
    await first.write(pattern(4 * 4096, 1), 0);
    await first.sync();
    const file = await open(store, 4096); // a new file object: nothing held from the first
    store.resetMetrics();
    await file.write(pattern(4096, 2), 4096); // whole block: no read
    await file.write(pattern(10, 3), 3 * 4096 + 5); // part of a block: one read
    await file.sync();
    expect(store.metrics).toMatchObject({ get: 1, put: 2, delete: 0 });
  });

  it('keeps the blocks the latest sync committed, so reading them again costs no request', async () => {
    const store = withMetrics(new MemoryStore());
    const file = await open(store, 4096);
    await file.write(pattern(3 * 4096, 1), 0);
    await file.sync();
    await file.write(pattern(100, 2), 5000);
    await file.sync();
    store.resetMetrics();
    const read = new Uint8Array(200);
    await file.read(read, 4950); // block 1: committed by the latest sync
    await file.write(pattern(10, 3), 4096 + 7); // part of block 1: no read-before-write either
    expect(store.metrics).toMatchObject({ get: 0 });
    await file.read(read, 0); // block 0: committed by an earlier sync, read from the store
    expect(store.metrics).toMatchObject({ get: 1 });
    const expected = pattern(3 * 4096, 1);
    expected.set(pattern(100, 2), 5000);
    expected.set(pattern(10, 3), 4096 + 7);
    await file.sync();
    const again = await open(store, 4096);
    const all = new Uint8Array(3 * 4096);
    await again.read(all, 0);
    expectSameBytes(all, expected);
  });

  it('refuses a negative or fractional range', async () => {
    const file = await open(new MemoryStore(), 4096);
    await expect(file.read(new Uint8Array(1), -1)).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    await expect(file.write(new Uint8Array(1), 0.5)).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    await expect(file.truncate(-4)).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
  });

  it('commits early when the buffered blocks pass maxDirtyBytes', async () => {
    const store = new MemoryStore();
    const file = new PagedFile(await DirectFormat.open(store, 'db', { blockSize: 512 }), { maxDirtyBytes: 2048 });
    await file.write(pattern(2048, 1), 0);
    expect(await objectSizes(store, 'db/')).toEqual([]);
    await file.write(pattern(512, 2), 2048);
    expect(await objectSizes(store, 'db/')).toEqual(expectedObjects('db', 2560, 512));
    expect(file.dirty).toBe(false);
  });

  it('keeps changes buffered when a commit fails midway, so that a retried sync succeeds', async () => {
    const memory = new MemoryStore();
    const bs = 4096;
    const before = await open(memory, bs);
    await before.write(pattern(6 * bs, 1), 0);
    await before.sync();

    const store = withFaults(memory, { at: 3, ops: ['put'] });
    const file = await open(store, bs);
    const changed = pattern(5 * bs, 2);
    await file.write(changed, 100);
    await file.truncate(5 * bs + 200); // and shrink: block 5 is rewritten shorter
    const expected = pattern(6 * bs, 1).slice(0, 5 * bs + 200);
    expected.set(changed.subarray(0, 5 * bs + 100), 100);
    await expect(file.sync()).rejects.toThrow(/injected fault: put "db\/0000000002" \(request 3\)/);
    expect(file.dirty).toBe(true);
    expectSameBytes(await readAll(file), expected); // reads still see the buffered changes
    await file.sync();
    expect(file.dirty).toBe(false);
    expectSameBytes(await readAll(await open(memory, bs)), expected);
    expect(await objectSizes(memory, 'db/')).toEqual(expectedObjects('db', 5 * bs + 200, bs));
  });

  it('retries a shrink whose delete failed after it happened', async () => {
    const memory = new MemoryStore();
    const bs = 512;
    const seed = await open(memory, bs);
    await seed.write(pattern(10 * bs, 1), 0);
    await seed.sync();
    const store = withFaults(memory, { at: 1, ops: ['delete'], mode: 'fail-after' });
    const file = await open(store, bs);
    await file.truncate(2 * bs + 1);
    await expect(file.sync()).rejects.toThrow(/injected fault: delete 7 keys/);
    expect(file.dirty).toBe(true);
    await file.sync();
    expect(await objectSizes(memory, 'db/')).toEqual(expectedObjects('db', 2 * bs + 1, bs));
    expectSameBytes(await readAll(await open(memory, bs)), pattern(10 * bs, 1).subarray(0, 2 * bs + 1));
  });

  it.each([
    ['direct', {}],
    ['atomic, inline', {}],
    ['atomic, block objects', { atomic: { inlineLimit: 0 } }],
  ] as const)('changes a block the latest sync committed in place, which neither the store nor a discard sees (%s)', async (layout, options) => {
    const store = new MemoryStore();
    const opened = (): Promise<PagedFile> => openPagedFile(store, 'db', { layout: layout === 'direct' ? 'direct' : 'atomic', blockSize: 4096, ...options });
    const file = await opened();
    const committed = pattern(2 * 4096, 1);
    await file.write(committed, 0);
    await file.sync();
    await file.write(pattern(100, 2), 50); // block 0: its committed buffer, taken over
    expectSameBytes(await readAll(await opened()), committed);
    file.discard();
    expectSameBytes(await readAll(file), committed);
    await file.write(pattern(100, 3), 50);
    await file.sync();
    const expected = committed.slice();
    expected.set(pattern(100, 3), 50);
    expectSameBytes(await readAll(file), expected);
    expectSameBytes(await readAll(await opened()), expected);
  });

  it('is what openPagedFile gives for the direct layout, with the default block size 4096', async () => {
    const store = new MemoryStore();
    const file = await openPagedFile(store, 'main.db', { layout: 'direct' });
    expect(file.blockSize).toBe(4096);
    expect(file.name).toBe('main.db');
    await file.write(pattern(5000, 1), 0);
    await file.sync();
    expect(await objectSizes(store, 'main.db/')).toEqual([
      ['main.db/0000000000', 4096],
      ['main.db/0000000001', 904],
    ]);
    await expect(openPagedFile(store, 'main.db', { layout: 'nope' as 'direct' })).rejects.toThrow(/unknown layout "nope"/);
  });
});
