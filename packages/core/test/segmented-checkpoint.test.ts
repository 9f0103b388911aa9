import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, type AtomicFormatOptions } from '../src/atomic/atomic-format.js';
import { BlockMap } from '../src/atomic/block-map.js';
import { decodeObject } from '../src/atomic/encoding.js';
import {
  atomicCheckpointKey,
  atomicSegmentKey,
  decodeCheckpoint,
  decodeSegment,
  encodeCheckpoint,
  encodeSegment,
  parseCheckpointKey,
} from '../src/atomic/objects.js';
import { holdsInteriorPage, sqlitePageSize } from '../src/interior-pages.js';
import { readHead, segmentBlocksFor } from '../src/atomic/history.js';
import { collectGarbage, verifyObjects, withRequestLog, type BlockStore, type RequestEvent } from '@blockvfs/core';
import { PagedFile } from '@blockvfs/core/format';
import { expectSameBytes, listAll, pattern, withCapabilities } from './helpers.js';

/**
 * Segmented checkpoints (docs/atomic-format.md): the block map of a large file's
 * checkpoint in segments, each loaded when a block in it is first read. Small block
 * and segment sizes make a file of a few KiB "large" here.
 */

const BS = 512;
const SEGMENT = 4;
const hour = 60 * 60 * 1000;

async function open(store: BlockStore, options: Partial<AtomicFormatOptions> = {}): Promise<{ file: PagedFile; format: AtomicFormat }> {
  const format = await AtomicFormat.open(store, 'db', { blockSize: BS, checkpointSegmentBlocks: SEGMENT, checkpointEvery: 0, inlineLimit: 0, ...options });
  return { file: new PagedFile(format), format };
}

async function contents(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

/** `pages` pages of `pageSize` bytes that start as an SQLite file does (its header), all leaves (kind 13) but as set after. */
function sqliteLike(pages: number, pageSize: number): Uint8Array {
  const bytes = new Uint8Array(pages * pageSize);
  bytes.set(new TextEncoder().encode('SQLite format 3\0'));
  bytes[16] = pageSize >> 8;
  bytes[17] = pageSize & 0xff;
  bytes[100] = 13;
  for (let page = 1; page < pages; page++) bytes[page * pageSize] = 13;
  return bytes;
}

/** A store whose GETs are recorded, and the keys fetched. */
function logged(store: BlockStore): { store: BlockStore; gets: string[] } {
  const gets: string[] = [];
  return { store: withRequestLog(store, (event: RequestEvent) => (event.op === 'get' ? gets.push(event.key) : undefined)), gets };
}

describe('segmented checkpoints', () => {
  it('are cut only for files past the minimum, into at most 64 segments', () => {
    expect(segmentBlocksFor(1024)).toBeUndefined();
    expect(segmentBlocksFor(1025)).toBe(1024);
    expect(segmentBlocksFor(30_599)).toBe(1024);
    expect(segmentBlocksFor(524_288)).toBe(8192);
    expect(Math.ceil(524_288 / (segmentBlocksFor(524_288) as number))).toBe(64);
    expect(segmentBlocksFor(5, 4)).toBe(4);
  });

  it('encode each segment with its range, and refuse one that says another', () => {
    const entries: Array<[number, { seq: number; tag: string; crc: number | undefined }]> = [
      [8, { seq: 3, tag: '0123456789abcdef', crc: 7 }],
      [9, { seq: 3, tag: '0123456789abcdef', crc: undefined }],
    ];
    const bytes = encodeSegment(12, 2, 8, 4, entries);
    expect(decodeObject(bytes, 5, 'k', 'memory').version).toBe(3);
    expect([...decodeSegment(bytes, 'k', 12, 2, 8, 4, 'memory')]).toEqual(entries);
    expect(() => decodeSegment(bytes, 'k', 13, 2, 8, 4, 'memory')).toThrow(/belongs to checkpoint 12/);
    expect(() => decodeSegment(bytes, 'k', 12, 2, 8, 3, 'memory')).toThrow(/covers blocks 8 \+ 4, not 8 \+ 3/);
    expect(() => decodeSegment(encodeSegment(12, 2, 8, 1, entries), 'k', 12, 2, 8, 1, 'memory')).toThrow(/block 9 lies outside/);
    expect(parseCheckpointKey('000000000012')).toEqual({ seq: 12, segment: false });
    expect(parseCheckpointKey(atomicSegmentKey('', 12, 4, 2).slice('/checkpoint/'.length))).toEqual({ seq: 12, segment: true });
    expect(parseCheckpointKey('000000000012.x')).toBeUndefined();
  });

  it('lets an open read its first segment only, and each other one when a block in it is first read', async () => {
    const inner = new MemoryStore();
    const { file, format } = await open(inner);
    const data = pattern(BS * 37 + 100, 1); // 38 blocks: 10 segments of 4
    await file.write(data, 0);
    await file.sync();
    await format.checkpoint();
    const segments = (await listAll(inner, 'db/checkpoint/')).map((entry) => entry.key);
    expect(segments).toHaveLength(11);
    expect(segments).toContain(atomicSegmentKey('db', 1, SEGMENT, 9));
    expect(decodeObject((await inner.get(atomicCheckpointKey('db', 1))) as Uint8Array, 2, 'k', 'memory').version).toBe(3);

    const { store, gets } = logged(inner);
    const reader = await open(store);
    const segmentGets = (): string[] => gets.filter((key) => /checkpoint\/\d{12}\.\d+\.\d{6}$/.test(key));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(segmentGets()).toEqual([atomicSegmentKey('db', 1, SEGMENT, 0)]); // fetched with the open, for the header
    const block = new Uint8Array(BS);
    await reader.file.read(block, 21 * BS);
    expectSameBytes(block, data.subarray(21 * BS, 22 * BS), 'block 21');
    expect(segmentGets()).toContain(atomicSegmentKey('db', 1, SEGMENT, 5));
    expectSameBytes(await contents(reader.file), data, 'the whole file');
    expect(new Set(segmentGets()).size).toBe(10);
  });

  it('tell B-tree interior pages by their first byte, after the file header on page 1, in blocks of any size', () => {
    const header = sqliteLike(4, 1024);
    expect(sqlitePageSize(header)).toBe(1024);
    expect(sqlitePageSize(header.subarray(0, 99))).toBeUndefined();
    const big = sqliteLike(1, 65536);
    big[16] = 0;
    big[17] = 1; // 65536 is stored as 1
    expect(sqlitePageSize(big)).toBe(65536);
    const file = sqliteLike(8, 1024);
    file[100] = 5; // page 1: its kind comes after the 100-byte header
    file[3 * 1024] = 2; // page 4: an interior index page
    file[5 * 1024] = 13; // page 6: a leaf
    expect(holdsInteriorPage(file.subarray(0, 2048), 0, 2048, 1024)).toBe(true);
    expect(holdsInteriorPage(file.subarray(2048, 4096), 1, 2048, 1024)).toBe(true);
    expect(holdsInteriorPage(file.subarray(4096, 6144), 2, 2048, 1024)).toBe(false);
    // Blocks smaller than a page: only the one a page starts in tells anything.
    expect(holdsInteriorPage(file.subarray(3 * 1024, 3 * 1024 + 512), 6, 512, 1024)).toBe(true);
    expect(holdsInteriorPage(file.subarray(3 * 1024 + 512, 4 * 1024), 7, 512, 1024)).toBeUndefined();
    // Blocks that are no multiple of a page (4097 bytes): page 4 starts at 3072, inside block 0.
    expect(holdsInteriorPage(file.subarray(0, 4097), 0, 4097, 1024)).toBe(true);
    expect(holdsInteriorPage(file.subarray(4097, 8194), 1, 4097, 1024)).toBe(false);
  });

  it('carry their hot blocks’ entries in the root, read with no segment first; a root that disagrees with its segment is damage', async () => {
    const inner = new MemoryStore();
    const { file, format } = await open(inner);
    const data = sqliteLike(38, BS); // one page per block: 10 segments of 4
    data[22 * BS] = 5;
    data[9 * BS] = 2;
    await file.write(data, 0);
    await file.sync();
    await format.checkpoint();
    const root = decodeCheckpoint((await inner.get(atomicCheckpointKey('db', 1))) as Uint8Array, 'k', 1, 'memory');
    expect([...root.hot.keys()]).toEqual([9, 22]);

    const { store, gets } = logged(inner);
    const reader = await open(store);
    const segmentGets = (): string[] => gets.filter((key) => /checkpoint\/\d{12}\.\d+\.\d{6}$/.test(key));
    const block = new Uint8Array(BS);
    await reader.file.read(block, 22 * BS);
    expectSameBytes(block, data.subarray(22 * BS, 23 * BS), 'block 22');
    expect(segmentGets()).not.toContain(atomicSegmentKey('db', 1, SEGMENT, 5));
    await reader.file.read(block, 21 * BS); // its segment (5) is loaded, and agrees with the root on block 22
    expect(segmentGets()).toContain(atomicSegmentKey('db', 1, SEGMENT, 5));
    expectSameBytes(await contents(reader.file), data, 'the whole file');

    // A root whose copy of block 22's entry is not its segment's: damage, met when that segment loads, and by verify.
    const entry = root.hot.get(22) as NonNullable<ReturnType<typeof root.hot.get>>;
    root.hot.set(22, { ...entry, crc: ((entry.crc as number) + 1) >>> 0 });
    await inner.put(atomicCheckpointKey('db', 1), encodeCheckpoint(root));
    const victim = await open(inner);
    await expect(victim.file.read(block, 21 * BS)).rejects.toThrow(/checkpoint 1 .* says block 22 is of commit 1 .* but its segment 5 .* says of commit 1/);
    const report = await verifyObjects({ store: inner, name: 'db' });
    expect(report.problems.join('\n')).toMatch(/says block 22/);
  });

  it('keep what commits after the checkpoint changed, shrinking and growing included, whenever a segment loads', async () => {
    const store = new MemoryStore();
    const writer = await open(store);
    let expected = pattern(BS * 40, 2);
    await writer.file.write(expected, 0);
    await writer.file.sync();
    await writer.format.checkpoint();
    const reader = await open(store); // stands on checkpoint 1, nothing but segment 0 loaded
    // Shrink to 13 blocks, grow back to 30 writing only block 29, and change block 6.
    await writer.file.truncate(BS * 13);
    await writer.file.sync();
    const tail = pattern(BS, 3);
    await writer.file.write(tail, BS * 29);
    const six = pattern(BS, 4);
    await writer.file.write(six, BS * 6);
    await writer.file.sync();
    const grown = new Uint8Array(BS * 30);
    grown.set(expected.subarray(0, BS * 13));
    grown.set(six, BS * 6);
    grown.set(tail, BS * 29);
    expected = grown;
    expect(await reader.format.refresh()).toBe(true);
    expectSameBytes(await contents(reader.file), expected, 'read through segments loaded after the commits');
    expectSameBytes(await contents((await open(store)).file), expected, 'a fresh open');
    // A checkpoint of that state, segmented again, opens the same.
    await reader.format.checkpoint();
    expectSameBytes(await contents((await open(store)).file), expected, 'after a second checkpoint');
  });

  it('read a segment collected with its checkpoint from a newer one, and say so when none is left', async () => {
    const store = new MemoryStore();
    const writer = await open(store);
    const data = pattern(BS * 24, 5);
    await writer.file.write(data, 0);
    await writer.file.sync();
    await writer.format.checkpoint(); // 1
    const reader = await open(store);
    const stuck = await open(store);
    const changed = pattern(BS, 6);
    await writer.file.write(changed, BS * 17);
    await writer.file.sync();
    await writer.format.checkpoint(); // 2
    data.set(changed, BS * 17);
    await reader.format.refresh(); // at 2, still standing on checkpoint 1
    const report = await collectGarbage({ store, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
    expect(report.oldestKept).toBe(2);
    expect((await listAll(store, 'db/checkpoint/')).every((entry) => entry.key.startsWith(atomicCheckpointKey('db', 2)))).toBe(true);
    expectSameBytes(await contents(reader.file), data, 'read from checkpoint 2');
    // A view at commit 1 has nothing left to stand on.
    const block = new Uint8Array(BS);
    await expect(stuck.file.read(block, 20 * BS)).rejects.toMatchObject({
      kind: 'transient',
      message: expect.stringMatching(/older than what the store keeps/),
    });
  });

  it('are collected with their checkpoint, checked by verify, and named in its problems when missing', async () => {
    const store = new MemoryStore();
    const writer = await open(store);
    await writer.file.write(pattern(BS * 20, 7), 0);
    await writer.file.sync();
    await writer.format.checkpoint();
    expect((await verifyObjects({ store, name: 'db' })).ok).toBe(true);
    const victim = atomicSegmentKey('db', 1, SEGMENT, 3);
    await store.delete([victim]);
    const report = await verifyObjects({ store, name: 'db' });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/segment 3 of checkpoint 1 .* is missing/);
  });

  it.each([
    ['grows', BS * 20],
    ['replaces block 0 (commit 1 wrote it), which the collection then deletes', 0],
  ])('collected while verify reads them are not damage, nor the blocks collected with them (commit 2 %s)', async (_, offset) => {
    const store = new MemoryStore();
    const writer = await open(store);
    await writer.file.write(pattern(BS * 20, 13), 0);
    await writer.file.sync();
    await writer.format.checkpoint(); // 1
    await writer.file.write(pattern(BS, 14), offset);
    await writer.file.sync();
    await writer.format.checkpoint(); // 2
    // A collection runs right when verify first asks for a segment of checkpoint 1, after it read the head.
    let collected = false;
    const racing: BlockStore = {
      ...withCapabilities(store, {}),
      get: async (key, range) => {
        if (!collected && key.startsWith(`${atomicCheckpointKey('db', 1)}.`)) {
          collected = true;
          await collectGarbage({ store, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
        }
        return store.get(key, range);
      },
    };
    const report = await verifyObjects({ store: racing, name: 'db' });
    expect(collected).toBe(true);
    expect(report.problems).toEqual([]);
  });

  it('follow a commit that names more than 4096 blocks with a checkpoint', async () => {
    const store = new MemoryStore();
    const { file, format } = await open(store, { checkpointEvery: 100 });
    await file.write(pattern(BS * 4097, 8), 0);
    await file.sync();
    expect(format.seq).toBe(1);
    expect(format.checkpointSeq).toBe(1);
    await file.write(pattern(BS, 9), 0);
    await file.sync();
    expect(format.checkpointSeq).toBe(1);
  });

  it('let writers that cut the same checkpoint differently both land, and the one that landed reads back', async () => {
    const store = new MemoryStore();
    const writer = await open(store);
    const data = pattern(BS * 30, 10);
    await writer.file.write(data, 0);
    await writer.file.sync();
    const other = await open(store, { checkpointSegmentBlocks: 8 });
    await Promise.all([writer.format.checkpoint(), other.format.checkpoint()]);
    expectSameBytes(await contents((await open(store)).file), data, 'the checkpoint that landed');
    expect((await verifyObjects({ store, name: 'db' })).ok).toBe(true);
  });
});

describe('a checkpoint below what a collection keeps', () => {
  it('is never listed in the head (its segments may be gone already)', async () => {
    const store = new MemoryStore();
    const a = await open(store);
    await a.file.write(pattern(BS * 20, 11), 0);
    await a.file.sync();
    const b = await open(store);
    for (let i = 0; i < 2; i++) {
      await b.file.write(pattern(BS, 12 + i), 0);
      await b.file.sync();
    }
    const report = await collectGarbage({ store, name: 'db', retentionMs: hour, now: Date.now() + 2 * hour });
    expect(report.oldestKept).toBe(3);
    expect(a.format.seq).toBe(1); // a view confirmed just now, one the store no longer keeps
    await a.format.checkpoint();
    expect((await readHead(store, 'db'))?.checkpoints).toEqual([3]);
  });
});

describe('BlockMap', () => {
  const entry = (seq: number) => ({ seq, tag: '0123456789abcdef', crc: seq });

  it('throws on a block whose segment is not loaded, and merges a late segment under what commits set and truncated', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const map = BlockMap.lazy(
      {
        segmentBlocks: 4,
        load: async (segment) => {
          await gate;
          return new Map(Array.from({ length: 4 }, (_, i) => [segment * 4 + i, entry(1)]));
        },
      },
      2,
    );
    expect(() => map.get(5)).toThrow(/before its checkpoint segment was loaded/);
    const loading = map.load(5, 3);
    map.set(5, entry(2)); // a commit while the segment loads
    map.truncate(7); // and a shrink to 7 blocks
    release();
    await loading;
    expect(map.get(4)).toEqual(entry(1));
    expect(map.get(5)).toEqual(entry(2));
    expect(map.get(6)).toEqual(entry(1));
    expect(map.get(7)).toBeUndefined();
    expect(() => map.entries()).toThrow(/not loaded/);
    await map.loadAll(3);
    expect(map.entries().map(([index]) => index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('lets a load that may fall back further try again when a shared one for an older commit fails', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const asked: number[] = [];
    const map = BlockMap.lazy(
      {
        segmentBlocks: 4,
        load: async (segment, atMost) => {
          asked.push(atMost);
          await gate;
          // Collected with its checkpoint: only a view at commit 5 or later finds it in a newer checkpoint.
          if (atMost < 5) throw new Error('segment gone');
          return new Map([[segment * 4, entry(5)]]);
        },
      },
      1,
    );
    const prefetch = map.load(0, 1).catch((error: Error) => error.message);
    const read = map.load(0, 7);
    release();
    expect(await prefetch).toBe('segment gone');
    await read;
    expect(asked).toEqual([1, 7]);
    expect(map.get(0)).toEqual(entry(5));
  });
});
