import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockStore } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { MemoryStore } from '@blockvfs/store-memory';

/** Every key on `store` (with its size), in order. */
export async function storeObjects(store: BlockStore, prefix = ''): Promise<Array<{ key: string; size: number }>> {
  const objects: Array<{ key: string; size: number }> = [];
  for await (const entry of store.list(prefix)) objects.push({ key: entry.key, size: entry.size });
  return objects;
}

/** A new MemoryStore holding a copy of every object of `source`. */
export async function copyStore(source: BlockStore): Promise<MemoryStore> {
  const copy = new MemoryStore();
  for (const { key } of await storeObjects(source)) {
    const data = await source.get(key);
    if (data) await copy.put(key, data);
  }
  return copy;
}

/** Deterministic bytes for row `id`, `length` long. */
export function payload(id: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (id * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

export interface StoreFactory {
  label: string;
  create(): Promise<{ store: BlockStore; dispose(): Promise<void> }>;
}

/** The stores the SQL tests run on: memory, and a folder (a fresh temp dir per case). */
export async function storeFactories(): Promise<StoreFactory[]> {
  return [
    { label: 'memory', create: async () => ({ store: new MemoryStore(), dispose: async () => undefined }) },
    {
      label: 'fs',
      create: async () => {
        const root = await mkdtemp(join(tmpdir(), 'blockvfs-wasqlite-'));
        return { store: new FsStore({ root }), dispose: () => rm(root, { recursive: true, force: true }) };
      },
    },
  ];
}
