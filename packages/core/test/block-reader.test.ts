import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat } from '../src/atomic/atomic-format.js';
import { PagedFile } from '@blockvfs/core/format';
import { withLatency } from '@blockvfs/core/testing';
import { withMetrics, type BlockStore } from '@blockvfs/core';
import { pattern } from './helpers.js';

/** A store that records how many of its gets run at once. */
function concurrencyProbe(store: BlockStore): BlockStore & { peak: number } {
  let running = 0;
  const probe = {
    name: store.name,
    capabilities: store.capabilities,
    peak: 0,
    async get(key: string, range?: { offset: number; length?: number }) {
      running += 1;
      probe.peak = Math.max(probe.peak, running);
      try {
        return await store.get(key, range);
      } finally {
        running -= 1;
      }
    },
    put: store.put.bind(store),
    delete: store.delete.bind(store),
    list: store.list.bind(store),
  };
  return probe;
}

async function fileOf(blocks: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  const file = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: 1024, inlineLimit: 0 }));
  await file.write(pattern(blocks * 1024, 1), 0);
  await file.sync();
  return store;
}

describe('reading block objects (atomic layout)', () => {
  it('reads ahead when blocks are read in order: each block fetched once, many at a time', async () => {
    const inner = await fileOf(200);
    const probe = concurrencyProbe(withLatency(inner, 2));
    const store = withMetrics(probe);
    const file = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: 1024 }));
    store.resetMetrics();
    probe.peak = 0;
    const block = new Uint8Array(1024);
    for (let index = 0; index < 200; index++) await file.read(block, index * 1024);
    expect(store.metrics.get).toBe(200);
    expect(probe.peak).toBeGreaterThanOrEqual(16);
  });

  it('reads ahead when each block is read in several pieces, in order (a scan with blocks larger than its pages)', async () => {
    const inner = await fileOf(200);
    const probe = concurrencyProbe(withLatency(inner, 2));
    const store = withMetrics(probe);
    const file = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: 1024 }));
    store.resetMetrics();
    probe.peak = 0;
    // Four 256-byte pages per block, as SQLite reads 4 KiB pages of 16 KiB blocks: the
    // block noted again for its second page is no break in the run.
    const page = new Uint8Array(256);
    for (let offset = 0; offset < 200 * 1024; offset += 256) {
      if (file.readInMemory(page, offset) === undefined) await file.read(page, offset);
    }
    expect(store.metrics.get).toBe(200);
    expect(probe.peak).toBeGreaterThanOrEqual(16);
  });

  it('does not read ahead for reads out of order, nor without a cache to keep what it fetched', async () => {
    const inner = await fileOf(200);
    for (const [cacheBytes, order] of [
      [undefined, (i: number) => (i * 37) % 200],
      [0, (i: number) => i],
    ] as const) {
      const probe = concurrencyProbe(inner);
      const store = withMetrics(probe);
      const file = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: 1024, ...(cacheBytes === undefined ? {} : { cacheBytes }) }));
      store.resetMetrics();
      probe.peak = 0; // opening fetches commit records in parallel
      const block = new Uint8Array(1024);
      for (let i = 0; i < 100; i++) await file.read(block, order(i) * 1024);
      expect(store.metrics.get).toBe(100);
      expect(probe.peak).toBe(1);
    }
  });

  it('a read of a block being fetched ahead waits for that fetch instead of asking again', async () => {
    const inner = await fileOf(50);
    const store = withMetrics(withLatency(inner, 5));
    const file = new PagedFile(await AtomicFormat.open(store, 'db', { blockSize: 1024 }));
    store.resetMetrics();
    // Two blocks at once, in order, so that a read meets the fetch ahead of it in flight.
    const block = new Uint8Array(2048);
    for (let index = 0; index < 50; index += 2) await file.read(block, index * 1024);
    expect(store.metrics.get).toBe(50);
  });
});
