import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, type AtomicFormatOptions } from '../src/atomic/atomic-format.js';
import { atomicBlockKey, atomicCheckpointKey, atomicCommitKey, atomicHeadKey, decodeRecord, encodeRecord } from '../src/atomic/objects.js';
import CRC32 from 'crc-32';
import { crc32 } from '../src/checksum.js';
import { FORMAT_VERSION, KIND_COMMIT, decodeObject, encodeObject } from '../src/atomic/encoding.js';
import { BlockVfsError, isBlockVfsError, isWrongLayoutError, withMetrics, type BlockStore } from '@blockvfs/core';
import { PagedFile, directBlockKey, openPagedFile } from '@blockvfs/core/format';
import { withFaults } from '@blockvfs/core/testing';
import { expectSameBytes, listAll, pattern, tick, withCapabilities } from './helpers.js';

async function openFile(store: BlockStore, name: string, options: AtomicFormatOptions): Promise<{ file: PagedFile; format: AtomicFormat }> {
  const format = await AtomicFormat.open(store, name, options);
  return { file: new PagedFile(format), format };
}

async function contents(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

/** The file as a fresh reader on `store` sees it. */
async function reopened(store: BlockStore, name: string, blockSize = 4096): Promise<Uint8Array> {
  return contents((await openFile(store, name, { blockSize })).file);
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('atomic encoding', () => {
  it('round-trips a header and a payload, and computes zlib’s CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const bytes = encodeObject(KIND_COMMIT, { seq: 7 }, new Uint8Array([1, 2, 3]));
    const decoded = decodeObject(bytes, KIND_COMMIT, 'k', 'memory');
    expect(decoded.header).toEqual({ seq: 7 });
    expect([...decoded.payload]).toEqual([1, 2, 3]);
  });

  it('computes the same CRC-32 natively (Node) as in JavaScript (browsers), and lays payload parts end to end', () => {
    const random = new Uint8Array(100_003).map(() => Math.floor(Math.random() * 256));
    for (const bytes of [new Uint8Array(0), random, random.subarray(17, 4113)]) expect(crc32(bytes)).toBe(CRC32.buf(bytes) >>> 0);
    const parts = encodeObject(KIND_COMMIT, { seq: 7 }, [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])]);
    expect(parts).toEqual(encodeObject(KIND_COMMIT, { seq: 7 }, new Uint8Array([1, 2, 3])));
  });

  it('encodes a record whose inline blocks are views of its own bytes, not of the buffers given', () => {
    const block = new Uint8Array(512).fill(9);
    const { bytes, inline } = encodeRecord({
      seq: 3,
      tag: '0123456789abcdef',
      time: 1,
      size: 1024,
      blockSize: 512,
      blocks: [],
      inline: [
        [0, block],
        [1, block],
      ],
    });
    block.fill(0); // the caller reuses its buffer
    expect(inline.map(([index, data]) => [index, data.buffer === bytes.buffer, data.every((b) => b === 9)])).toEqual([
      [0, true, true],
      [1, true, true],
    ]);
    expect(decodeRecord(bytes, 'db/log/3', 3, 'memory').inline).toEqual(inline);
  });

  it('refuses another format version, a flipped bit and a wrong kind, naming the object', () => {
    const bytes = encodeObject(KIND_COMMIT, { seq: 1 });
    const newer = bytes.slice();
    newer[8] = FORMAT_VERSION + 1;
    expect(() => decodeObject(newer, KIND_COMMIT, 'db/log/1', 'memory')).toThrow(
      /"db\/log\/1" has atomic format version 4; this blockvfs reads versions 1 to 3 \(upgrade blockvfs\)/,
    );
    const flipped = bytes.slice();
    flipped[20] = (flipped[20] as number) ^ 1;
    expect(() => decodeObject(flipped, KIND_COMMIT, 'k', 'memory')).toThrow(/checksum mismatch/);
    expect(() => decodeObject(bytes, 2, 'k', 'memory')).toThrow(/not a valid checkpoint/);
    expect(() => decodeObject(new Uint8Array(3), KIND_COMMIT, 'k', 'memory')).toThrow(BlockVfsError);
  });
});

describe('AtomicFormat', () => {
  for (const blockSize of [4096, 4097]) {
    for (const inlineLimit of [0, 128 * 1024]) {
      it(`round-trips writes, growth and shrinking through PagedFile (block size ${blockSize}, inline limit ${inlineLimit})`, async () => {
        const store = new MemoryStore();
        const { file } = await openFile(store, 'db', { blockSize, inlineLimit });
        let model = new Uint8Array(0);
        const write = async (data: Uint8Array, offset: number): Promise<void> => {
          await file.write(data, offset);
          if (offset + data.length > model.length) {
            const grown = new Uint8Array(offset + data.length);
            grown.set(model);
            model = grown;
          }
          model.set(data, offset);
        };
        await write(pattern(3 * blockSize + 100, 1), 0);
        await file.sync();
        expectSameBytes(await reopened(store, 'db', blockSize), model, 'after commit 1');
        await write(pattern(10, 2), blockSize - 5);
        await file.sync();
        await file.truncate(blockSize + 7);
        model = model.slice(0, blockSize + 7);
        await file.sync();
        expectSameBytes(await reopened(store, 'db', blockSize), model, 'after shrinking');
        await write(pattern(50, 3), 5 * blockSize); // growth past a gap: zeros in between
        await file.sync();
        expectSameBytes(await reopened(store, 'db', blockSize), model, 'after growth');
        const again = await openFile(store, 'db', { blockSize: 512 }); // an existing file keeps its block size
        expect(again.format.blockSize).toBe(blockSize);
        expect(again.format.seq).toBe(4);
        await again.file.write(pattern(3, 4), 1);
        model.set(pattern(3, 4), 1);
        await again.file.sync();
        expectSameBytes(await reopened(store, 'db', blockSize), model, 'after a commit by a second opener');
      });
    }
  }

  it('names its objects <name>/blocks/<index>.<seq>.<tag>, <name>/log/<seq>, <name>/checkpoint/<seq>, <name>/head', async () => {
    const store = new MemoryStore();
    const { file, format } = await openFile(store, 'dir/app.db', { blockSize: 1024, inlineLimit: 0, checkpointEvery: 0 });
    await file.write(pattern(1500, 1), 0);
    await file.sync();
    await format.checkpoint();
    const keys = (await listAll(store, '')).map((entry) => entry.key);
    expect(keys).toHaveLength(5);
    expect(keys[0]).toMatch(/^dir\/app\.db\/blocks\/0000000000\.000000000001\.[0-9a-f]{16}$/);
    expect(keys[1]).toMatch(/^dir\/app\.db\/blocks\/0000000001\.000000000001\.[0-9a-f]{16}$/);
    expect(keys.slice(2)).toEqual([atomicCheckpointKey('dir/app.db', 1), atomicHeadKey('dir/app.db'), atomicCommitKey('dir/app.db', 1)]);
    expect(keys[4]).toBe('dir/app.db/log/000000000001');
    expect((await store.get(keys[1] as string))?.length).toBe(476); // the last block is stored trimmed to the size
  });

  it('costs blocks + 1 PUT per commit, 1 PUT when the blocks travel inline, and no GET or LIST', async () => {
    const store = withMetrics(new MemoryStore());
    const big = await openFile(store, 'big', { blockSize: 4096, inlineLimit: 0 });
    store.resetMetrics();
    await big.file.write(pattern(5 * 4096, 1), 0);
    await big.file.sync();
    expect(store.metrics).toMatchObject({ put: 6, get: 0, list: 0, delete: 0 });

    const small = await openFile(store, 'small', { blockSize: 4096 });
    await small.file.write(pattern(5 * 4096, 1), 0);
    await small.file.sync();
    store.resetMetrics();
    await small.file.write(pattern(100, 2), 4000); // a single-row change touching two blocks
    await small.file.sync();
    expect(store.metrics).toMatchObject({ put: 1, get: 0, list: 0 });
    expectSameBytes(await reopened(store, 'small'), await contents(small.file));
  });

  it('shows nothing of a commit before its record exists, everything after', async () => {
    const inner = new MemoryStore();
    // Puts: commit 1 = 2 blocks + record (1–3); commit 2 = 2 blocks (4, 5) + record (6): hang there.
    const store = withFaults(inner, { at: 6, mode: 'hang', ops: ['put'] });
    const { file } = await openFile(store, 'db', { blockSize: 1024, inlineLimit: 0 });
    await file.write(pattern(2048, 1), 0);
    await file.sync();
    const before = pattern(2048, 1);
    await file.write(pattern(2048, 2), 0);
    const pending = rejection(file.sync());
    await tick();
    expect(store.faults.injected).toBe(1); // the record put is hanging, the blocks are up
    expect((await listAll(inner, 'db/blocks/')).length).toBe(4);
    const reader = await openFile(inner, 'db', { blockSize: 1024 });
    expect(reader.format.seq).toBe(1);
    expectSameBytes(await contents(reader.file), before, 'a reader opened mid-commit');
    store.faults.releaseHung();
    expect(await pending).toMatchObject({ kind: 'transient' });
    expect(await reader.format.refresh()).toBe(false);
    expectSameBytes(await reopened(inner, 'db', 1024), before, 'after the failed commit');
    await file.sync(); // the changes stayed buffered: the retry commits them
    expect(await reader.format.refresh()).toBe(true);
    expect(reader.format.seq).toBe(2);
    expectSameBytes(await reader.format.readBlock(1), pattern(2048, 2).subarray(1024), 'after refresh');
  });

  it('lets exactly one of two writers on the same base commit; the other gets precondition-failed and keeps its old snapshot', async () => {
    for (const inlineLimit of [0, 128 * 1024]) {
      const store = new MemoryStore();
      const a = await openFile(store, 'db', { blockSize: 1024, inlineLimit });
      await a.file.write(pattern(3000, 1), 0);
      await a.file.sync();
      const b = await openFile(store, 'db', { blockSize: 1024, inlineLimit });
      await a.file.write(pattern(500, 2), 100);
      await b.file.write(pattern(2000, 3), 900);
      const [first, second] = await Promise.allSettled([a.file.sync(), b.file.sync()]);
      expect(first.status).toBe('fulfilled');
      expect(second.status).toBe('rejected');
      const error = (second as PromiseRejectedResult).reason as unknown;
      expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
      expect((error as Error).message).toMatch(/another writer committed seq 2 of "db" first/);
      expect(b.format.seq).toBe(1);
      expectSameBytes(await b.format.readBlock(0), pattern(3000, 1).subarray(0, 1024), 'the loser’s snapshot');
      expect(b.file.dirty).toBe(true);
      const winner = await contents(a.file);
      expectSameBytes(await reopened(store, 'db', 1024), winner, 'the database after the race');
      // The loser refreshes and commits on the new base.
      expect(await b.format.refresh()).toBe(true);
      await b.format.commit({ size: 3000, blocks: new Map([[0, pattern(1024, 9)]]) });
      expect(b.format.seq).toBe(3);
      const expected = winner.slice();
      expected.set(pattern(1024, 9), 0);
      expectSameBytes(await reopened(store, 'db', 1024), expected, 'after the loser retried');
    }
  });

  it('refresh picks up another writer’s commits, for one GET when there are none', async () => {
    const store = withMetrics(new MemoryStore());
    const writer = await openFile(store, 'db', { blockSize: 512 });
    const reader = await openFile(store, 'db', { blockSize: 512 });
    store.resetMetrics();
    expect(await reader.format.refresh()).toBe(false);
    expect(store.metrics).toMatchObject({ get: 1, list: 0, put: 0 });
    for (let i = 1; i <= 5; i++) {
      await writer.file.write(pattern(700, i), i * 100);
      await writer.file.sync();
    }
    expect(await reader.format.refresh()).toBe(true);
    expect(reader.format.seq).toBe(5);
    expect(reader.format.size).toBe(writer.file.size);
    for (let index = 0; index * 512 < writer.file.size; index++) {
      const expected = new Uint8Array(Math.min(512, writer.file.size - index * 512));
      await writer.file.read(expected, index * 512);
      expectSameBytes(await reader.format.readBlock(index), expected, `block ${index}`);
    }
  });

  it('answers reads from memory (inline blocks, the block cache) with no request, and only those', async () => {
    const store = withMetrics(new MemoryStore());
    const writer = await openFile(store, 'db', { blockSize: 512, inlineLimit: 0 });
    await writer.file.write(pattern(5 * 512 + 100, 1), 0);
    await writer.file.sync();
    const reader = await openFile(store, 'db', { blockSize: 512, inlineLimit: 0 }); // its own cache: nothing held yet
    const expected = await contents(writer.file);
    store.resetMetrics();
    const target = new Uint8Array(700);
    expect(reader.file.readInMemory(target, 400)).toBeUndefined(); // blocks 0 to 2 are not cached yet
    expect(store.metrics.get).toBe(0);
    expect(await reader.file.read(target, 400)).toBe(700); // now they are
    store.resetMetrics();
    const again = new Uint8Array(700).fill(9);
    expect(reader.file.readInMemory(again, 400)).toBe(700);
    expectSameBytes(again, expected.subarray(400, 1100), 'from the cache');
    expect(store.metrics.get).toBe(0);
    const tail = new Uint8Array(300).fill(9);
    await reader.file.read(new Uint8Array(100), 5 * 512); // the short last block (perhaps read ahead already)
    expect(reader.file.readInMemory(tail, 5 * 512)).toBe(100); // past the end: zeros, a short count
    expectSameBytes(tail, Uint8Array.from([...expected.subarray(5 * 512), ...new Uint8Array(200)]), 'the tail');
  });

  it('says when a refresh or the start of a write would ask the store: freshness, a held lease, a pinned view', async () => {
    const store = new MemoryStore();
    const plain = await openFile(store, 'db', { blockSize: 512 });
    expect(plain.file.refreshNeeded).toBe(true);
    expect(plain.file.beginWriteNeeded).toBe(false); // no lease: nothing to do
    const fresh = await openFile(store, 'db', { blockSize: 512, freshnessMs: 60_000 });
    expect(fresh.file.refreshNeeded).toBe(false); // just confirmed at open
    const leased = await openFile(store, 'db', { blockSize: 512, lease: true });
    expect(leased.file.beginWriteNeeded).toBe(true);
    await leased.file.beginWrite();
    expect(leased.file.beginWriteNeeded).toBe(false);
    await leased.file.write(pattern(10, 1), 0);
    await leased.file.sync();
    expect(leased.file.refreshNeeded).toBe(false); // the lease keeps other writers out
    await leased.file.close();
    const pinned = await openFile(store, 'db', { blockSize: 512, asOf: 1 });
    expect(pinned.file.refreshNeeded).toBe(false);
    expect(pinned.file.beginWriteNeeded).toBe(true); // to refuse it
    await expect(pinned.file.beginWrite()).rejects.toThrow();
  });

  it('a PagedFile refresh shows another writer’s commits through its reads, and refuses with unsaved changes', async () => {
    const store = new MemoryStore();
    const writer = await openFile(store, 'db', { blockSize: 512 });
    const reader = await openFile(store, 'db', { blockSize: 512 });
    await writer.file.write(pattern(1500, 1), 0);
    await writer.file.sync();
    await reader.file.write(pattern(10, 2), 0); // a change of its own, not synced
    await expect(reader.file.refresh()).rejects.toSatisfy((e) => isBlockVfsError(e, 'invalid'));
    const fresh = await openFile(store, 'db', { blockSize: 512 });
    expect(await fresh.file.refresh()).toBe(false);
    await writer.file.write(pattern(700, 3), 1200);
    await writer.file.sync();
    expect(await fresh.file.refresh()).toBe(true);
    expect(fresh.file.size).toBe(1900);
    expectSameBytes(await contents(fresh.file), await contents(writer.file), 'after refresh');
  });

  it('opens from the head hint, the checkpoint and the commits after it: bounded GETs, one LIST', async () => {
    const inner = new MemoryStore();
    const { file, format } = await openFile(inner, 'db', { blockSize: 1024, checkpointEvery: 0 });
    for (let i = 1; i <= 50; i++) {
      await file.write(pattern(300, i), (i * 997) % 20_000);
      await file.sync();
      if (i === 40) await format.checkpoint();
    }
    const store = withMetrics(inner);
    const reader = await openFile(store, 'db', { blockSize: 1024 });
    expect(reader.format.seq).toBe(50);
    expect(reader.format.checkpointSeq).toBe(40);
    // head + checkpoint 40 + records 41…50 fetched in windows of 1, 2, 4, 8 (41 | 42–43 | 44–47 | 48–55: 51 is missing),
    // then the head again (a garbage collection meanwhile could have removed records this catch-up needed)
    // beside a listing for a record past 51 (a gap in the history, not its end).
    expect(store.metrics).toMatchObject({ get: 2 + 15 + 1, list: 1, put: 0 });
    expectSameBytes(await contents(reader.file), await contents(file));
  });

  it('checkpoints automatically every checkpointEvery commits, folding inline blocks into block objects', async () => {
    const inner = new MemoryStore();
    const store = withMetrics(inner);
    const { file, format } = await openFile(store, 'db', { blockSize: 1024, checkpointEvery: 3 });
    for (let i = 1; i <= 7; i++) {
      await file.write(pattern(100, i), i * 300);
      await file.sync();
    }
    expect(format.checkpointSeq).toBe(6);
    expect((await listAll(inner, 'db/checkpoint/')).map((entry) => entry.key)).toEqual([atomicCheckpointKey('db', 3), atomicCheckpointKey('db', 6)]);
    // A reader from checkpoint 6 never reads an inline record before it: the folded blocks are objects.
    for (const key of [atomicCommitKey('db', 1), atomicCommitKey('db', 5)]) await inner.delete([key]);
    expectSameBytes(await reopened(inner, 'db', 1024), await contents(file));
  });

  it('survives an interrupted checkpoint, and a head that names a missing checkpoint (one LIST)', async () => {
    const inner = new MemoryStore();
    const { file, format } = await openFile(inner, 'db', { blockSize: 1024, checkpointEvery: 0 });
    for (let i = 1; i <= 4; i++) {
      await file.write(pattern(1500, i), i * 100);
      await file.sync();
    }
    await format.checkpoint();
    await file.write(pattern(10, 5), 0);
    await file.sync();
    const expected = await contents(file);
    // The checkpoint at 5 dies at every one of its requests (fold 1 block, checkpoint, head).
    for (let n = 1; n <= 3; n++) {
      const faulty = withFaults(inner, { at: n, ops: ['put'] });
      const writer = await AtomicFormat.open(faulty, 'db', { blockSize: 1024 });
      expect(await rejection(writer.checkpoint())).toMatchObject({ kind: 'transient' });
      expectSameBytes(await reopened(inner, 'db', 1024), expected, `checkpoint interrupted at put ${n}`);
    }
    await inner.delete([atomicCheckpointKey('db', 4), atomicCheckpointKey('db', 5)]);
    await inner.put(atomicHeadKey('db'), encodeObject(3, { checkpoint: 4, checkpoints: [4], oldest: 0, blockSize: 1024 }));
    const store = withMetrics(inner);
    expectSameBytes(await reopened(store, 'db', 1024), expected, 'with a head naming a deleted checkpoint');
    expect(store.metrics.list).toBe(2); // the checkpoints, and the gap check
  });

  it('refuses a store without conditional puts unless singleWriter is given', async () => {
    const store = withCapabilities(new MemoryStore(), { conditionalPut: false });
    const error = await rejection(AtomicFormat.open(store, 'db', { blockSize: 4096 }));
    expect(error).toMatchObject({ kind: 'invalid' });
    expect((error as Error).message).toMatch(/needs a store with conditional puts.*singleWriter: true/);
    const { file } = await openFile(store, 'db', { blockSize: 4096, singleWriter: true });
    await file.write(pattern(10, 1), 0);
    await file.sync();
    expectSameBytes(await reopened(withCapabilities(store, { conditionalPut: true }), 'db'), pattern(10, 1));
    await expect(openPagedFile(store, 'db', { layout: 'atomic' })).rejects.toMatchObject({ kind: 'invalid' });
    expect((await openPagedFile(store, 'db', { layout: 'atomic', atomic: { singleWriter: true } })).size).toBe(10);
  });

  it('does not create an atomic file over a direct-layout one: a WrongLayoutError says which layout it is in, and the reverse', async () => {
    const store = new MemoryStore();
    const direct = await openPagedFile(store, 'db', { layout: 'direct' });
    await direct.write(pattern(10, 1), 0);
    await direct.sync();
    expect(await store.get(directBlockKey('db', 0))).toBeDefined();
    const error = await rejection(openPagedFile(store, 'db'));
    expect(isWrongLayoutError(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'invalid', layout: 'direct' });
    expect((error as Error).message).toMatch(/holds a direct-layout database/);

    const atomic = await openPagedFile(store, 'other', { layout: 'atomic' });
    await atomic.write(pattern(10, 2), 0);
    await atomic.sync();
    // Only a database open asks (probeOthers): a journal's open finds nothing and costs nothing more.
    expect((await openPagedFile(store, 'other', { layout: 'direct' })).size).toBe(0);
    const reverse = await rejection(openPagedFile(store, 'other', { layout: 'direct', probeOthers: true }));
    expect(reverse).toMatchObject({ kind: 'invalid', layout: 'atomic' });
  });

  it.each(['atomic', 'direct'] as const)(
    '%s layout: an SQLite file stored as the one object <name> is refused, not shadowed by a new database',
    async (layout) => {
      const store = new MemoryStore();
      await store.put('app.db', new TextEncoder().encode(`SQLite format 3\0${'x'.repeat(84)}`));
      const error = await rejection(openPagedFile(store, 'app.db', { layout, probeOthers: true }));
      expect(error).toMatchObject({ kind: 'invalid' });
      expect((error as Error).message).toMatch(/"app\.db" is an SQLite database file stored as one object.*deserialize/);
      await store.put('notes.db', new TextEncoder().encode('some other object'));
      expect((await openPagedFile(store, 'notes.db', { layout, probeOthers: true })).size).toBe(0); // not SQLite: not in the way
    },
  );

  it('reports a missing block object as a permanent error naming it', async () => {
    const store = new MemoryStore();
    const { file, format } = await openFile(store, 'db', { blockSize: 1024, inlineLimit: 0, cacheBytes: 0 });
    await file.write(pattern(100, 1), 0);
    await file.sync();
    const [entry] = await listAll(store, 'db/blocks/');
    await store.delete([entry?.key as string]);
    await expect(format.readBlock(0)).rejects.toThrow(
      /block 0 of commit 1 is missing: object "db\/blocks\/0000000000\.000000000001\.[0-9a-f]{16}" was deleted/,
    );
    expect(atomicBlockKey('db', 0, 1, 'ab')).toBe('db/blocks/0000000000.000000000001.ab');
  });
});
