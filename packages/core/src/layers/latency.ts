import { setTimeout as sleep } from 'node:timers/promises';
import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { BlockVfsError } from '../errors.js';
import { listInPages } from './list-pages.js';

export interface LatencyOptions {
  /** Milliseconds to wait before each request. */
  ms: number;
}

/**
 * Adds a fixed delay before each request (a list: before its first page and before
 * each further 1000 entries), so that a benchmark on a local store behaves like one
 * across a network: what matters becomes round trips, as it does on S3. A delete
 * call waits once, however many batches it holds, as batches go out in parallel.
 */
export function withLatency(store: BlockStore, options: LatencyOptions | number): BlockStore {
  const ms = typeof options === 'number' ? options : options.ms;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new BlockVfsError('invalid', `latency must be a finite number of milliseconds ≥ 0, got ${ms}`, { source: '@blockvfs/core', store: store.name });
  }
  const wait = (): Promise<void> => waitAtLeast(ms);
  return {
    name: store.name,
    capabilities: store.capabilities,
    async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      await wait();
      return store.get(key, range);
    },
    async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      await wait();
      return store.put(key, data, condition);
    },
    async delete(keys: readonly string[]): Promise<void> {
      await wait();
      return store.delete(keys);
    },
    list(prefix: string, listOptions?: ListOptions): AsyncIterable<ListEntry> {
      return listInPages(store.list(prefix, listOptions), { before: wait });
    },
  };
}

/**
 * Waits at least `ms` milliseconds by the monotonic clock. A timer may fire up to a
 * millisecond early as measured by `performance.now()` (libuv rounds its loop time),
 * so we check and top up: a benchmark's floor must really be a floor.
 */
async function waitAtLeast(ms: number): Promise<void> {
  if (ms === 0) return;
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await sleep(Math.ceil(left));
}
