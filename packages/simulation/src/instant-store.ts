import type { BlockStore } from '@blockvfs/core';
import type { ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from '@blockvfs/core/store';
import { SimObjects } from './sim-objects.js';

/**
 * A store that answers at once, outside any scheduler: used only to load the shared
 * wa-sqlite module before the first run (loading reads the .wasm file, real I/O that a
 * simulated run cannot wait for).
 */
export class InstantStore implements BlockStore {
  readonly name = 'instant';
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: 1000 };
  readonly #objects = new SimObjects();

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    return this.#objects.get(key, range);
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    return this.#objects.put(key, data.slice(), condition, this.name);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#objects.delete(key);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    yield* this.#objects.listPage(prefix, options.startAfter, Number.MAX_SAFE_INTEGER);
  }
}
