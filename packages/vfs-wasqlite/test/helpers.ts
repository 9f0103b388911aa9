import type { BlockStore } from '@blockvfs/core';
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
