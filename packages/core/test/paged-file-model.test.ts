import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, DirectFormat, PagedFile, directBlockKey } from '@blockvfs/core/format';
import { mulberry32 } from '../src/layers/faults.js';
import { expectSameBytes, listAll, pattern } from './helpers.js';

/**
 * A model test: thousands of random writes, truncates, reads, syncs and reopens on
 * a PagedFile, each mirrored on a plain byte array, compared at every read and sync.
 * Offsets favour block boundaries (±1), where the bugs live. Seeded: a failure
 * names its seed and step, and replays identically. Both layouts: the direct one is
 * checked object by object; the atomic one through a second process that refreshes
 * and must show the last synced state, and with checkpoints along the way.
 */

/** A growable byte array: the reference file. */
class Reference {
  bytes: Uint8Array = new Uint8Array(0);
  write(data: Uint8Array, offset: number): void {
    if (data.length === 0) return; // writing nothing past the end does not grow a file
    this.resize(Math.max(this.bytes.length, offset + data.length));
    this.bytes.set(data, offset);
  }
  resize(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, Math.min(size, this.bytes.length)));
    this.bytes = next;
  }
  clone(): Uint8Array {
    return this.bytes.slice();
  }
}

interface Run {
  layout?: 'direct' | 'atomic';
  /** Atomic layout: the inline limit (0: every commit uploads block objects). */
  inlineLimit?: number;
  blockSize: number;
  seed: number;
  steps: number;
  /** The largest file the run grows to (kept small for tiny blocks, large enough for 64 KiB ones). */
  maxSize: number;
  maxDirtyBytes?: number;
}

async function openFile(store: MemoryStore, run: Run): Promise<PagedFile> {
  const options = run.maxDirtyBytes === undefined ? {} : { maxDirtyBytes: run.maxDirtyBytes };
  if (run.layout === 'atomic') {
    const format = await AtomicFormat.open(store, 'db', { blockSize: run.blockSize, checkpointEvery: 3, inlineLimit: run.inlineLimit ?? 4 * run.blockSize });
    return new PagedFile(format, options);
  }
  return new PagedFile(await DirectFormat.open(store, 'db', { blockSize: run.blockSize }), options);
}

async function contents(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

/**
 * The store holds exactly the reference: in sqlite-s3vfs's shape (direct layout), or as
 * `reader`, another process, sees it after a refresh (atomic layout).
 */
async function expectStoreHolds(store: MemoryStore, run: Run, reader: PagedFile | undefined, expected: Uint8Array, where: string): Promise<void> {
  if (reader) {
    await reader.refresh();
    expectSameBytes(await contents(reader), expected, `${where}: another process's view`);
    return;
  }
  const blockSize = run.blockSize;
  const entries = await listAll(store, 'db/');
  const keys = entries.map((e) => e.key);
  const wantKeys = Array.from({ length: Math.ceil(expected.length / blockSize) }, (_, i) => directBlockKey('db', i));
  expect(keys, where).toEqual(wantKeys);
  const parts = await Promise.all(keys.map((key) => store.get(key)));
  const joined = new Uint8Array(expected.length);
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (!part) throw new Error(`${where}: block ${i} vanished`);
    if (i < parts.length - 1) expect(part.length, `${where}: block ${i} size`).toBe(blockSize);
    joined.set(part, at);
    at += part.length;
  }
  expect(at, `${where}: sum of object sizes`).toBe(expected.length);
  expectSameBytes(joined, expected, `${where}: stored bytes`);
}

async function runModel(run: Run): Promise<void> {
  const { blockSize: bs, steps, maxSize } = run;
  const random = mulberry32(run.seed);
  const int = (n: number): number => Math.floor(random() * n); // 0 … n-1
  /** An offset up to `limit`, often on or next to a block boundary. */
  const offset = (limit: number): number => {
    if (random() < 0.5) return int(limit + 1);
    const boundary = int(Math.floor(limit / bs) + 1) * bs;
    return Math.min(limit, Math.max(0, boundary + int(3) - 1));
  };
  /** A length: tiny, around a block, or several blocks. */
  const length = (): number => {
    const kind = int(4);
    if (kind === 0) return int(4);
    if (kind === 1) return Math.max(0, bs + int(3) - 1);
    if (kind === 2) return int(Math.min(bs, maxSize) + 1);
    return int(Math.min(4 * bs, maxSize) + 1);
  };

  const store = new MemoryStore();
  let file = await openFile(store, run);
  const reference = new Reference();
  let synced: Uint8Array = new Uint8Array(0);
  const atomic = run.layout === 'atomic';
  const reader = atomic ? await openFile(store, run) : undefined;
  // The atomic layout never commits before the sync: blocks staged ahead stay invisible until then.
  const flushesEarly = run.maxDirtyBytes !== undefined && !atomic;

  for (let step = 0; step < steps; step++) {
    const where = `${run.layout ?? 'direct'}, block size ${bs}, seed ${run.seed}, step ${step}`;
    const op = int(100);
    if (op < 40) {
      const at = offset(Math.min(reference.bytes.length + 2 * bs, maxSize));
      const data = pattern(Math.min(length(), maxSize - at), step);
      await file.write(data, at);
      reference.write(data, at);
    } else if (op < 55) {
      const size = offset(Math.min(reference.bytes.length + 2 * bs, maxSize));
      await file.truncate(size);
      reference.resize(size);
    } else if (op < 85) {
      const at = offset(reference.bytes.length + bs);
      const target = new Uint8Array(length()).fill(0xa5);
      const got = await file.read(target, at);
      const want = reference.bytes.subarray(Math.min(at, reference.bytes.length), at + target.length);
      expect(got, where).toBe(want.length);
      const expected = new Uint8Array(target.length);
      expected.set(want);
      expectSameBytes(target, expected, `${where}: read ${target.length} at ${at}`);
    } else if (op < 95) {
      await file.sync();
      synced = reference.clone();
      await expectStoreHolds(store, run, reader, synced, where);
    } else {
      // Reopen; without a sync first, the unsynced changes are lost (unless they were flushed early).
      if (flushesEarly || random() < 0.5) {
        await file.sync();
        synced = reference.clone();
      }
      if (atomic) file.discard(); // staged blocks of the abandoned transaction become garbage
      file = await openFile(store, run);
      reference.bytes = synced.slice();
    }
    expect(file.size, where).toBe(reference.bytes.length);
  }
  await file.sync();
  const end = `${run.layout ?? 'direct'}, block size ${bs}, seed ${run.seed}, end`;
  await expectStoreHolds(store, run, reader, reference.bytes, end);
  const reopened = await openFile(store, run);
  expectSameBytes(await contents(reopened), reference.bytes, `${end}: reopened`);
}

describe('PagedFile model test (random operations against a byte array)', () => {
  const runs: Run[] = [
    { blockSize: 1, seed: 1, steps: 3000, maxSize: 300 },
    { blockSize: 512, seed: 2, steps: 3000, maxSize: 16 * 512 },
    { blockSize: 4095, seed: 3, steps: 3000, maxSize: 12 * 4096 },
    { blockSize: 4096, seed: 4, steps: 3000, maxSize: 12 * 4096 },
    { blockSize: 4097, seed: 5, steps: 3000, maxSize: 12 * 4096 },
    { blockSize: 65536, seed: 6, steps: 1000, maxSize: 6 * 65536 },
    // Small dirty limits: writes commit before the sync, mid-transaction.
    { blockSize: 512, seed: 7, steps: 2000, maxSize: 16 * 512, maxDirtyBytes: 3 * 512 },
    { blockSize: 4097, seed: 8, steps: 2000, maxSize: 12 * 4096, maxDirtyBytes: 2 * 4097 },
    // The atomic layout: inline and uploaded commits, automatic checkpoints every 3 commits,
    // staging ahead of the commit when the dirty limit is small.
    { layout: 'atomic', blockSize: 1, seed: 11, steps: 1500, maxSize: 200 },
    { layout: 'atomic', blockSize: 512, seed: 12, steps: 3000, maxSize: 16 * 512 },
    { layout: 'atomic', blockSize: 4097, seed: 13, steps: 3000, maxSize: 12 * 4096, inlineLimit: 0 },
    { layout: 'atomic', blockSize: 4096, seed: 14, steps: 2000, maxSize: 12 * 4096, maxDirtyBytes: 2 * 4096 },
    { layout: 'atomic', blockSize: 1000, seed: 15, steps: 2000, maxSize: 16 * 1000, maxDirtyBytes: 3 * 1000, inlineLimit: 0 },
  ];
  it.each(runs)('$layout layout, block size $blockSize, seed $seed, $steps steps, maxDirtyBytes $maxDirtyBytes', async (run) => {
    await runModel(run);
  });
});
