import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { BlockVfsError, type ErrorKind } from '../errors.js';
import { listInPages } from './list-pages.js';

export type FaultOp = 'get' | 'put' | 'delete' | 'list';

/**
 * - `fail`: reject without making the request (it never reached the store);
 * - `hang`: never settle, until `releaseHung()`, which rejects it (a stuck connection);
 * - `fail-after`: make the request, then reject (a timeout on a request that did happen).
 */
export type FaultMode = 'fail' | 'hang' | 'fail-after';

export interface FaultOptions {
  /** Fault these requests (1-based indexes among the counted ones). */
  at?: number | readonly number[];
  /** Fault requests N, 2N, 3N… */
  every?: number;
  /** Fault each request with this probability (0…1), drawn from a PRNG seeded by `seed`. */
  probability?: number;
  /** Seed of the PRNG behind `probability` (default 1): the same seed faults the same requests. */
  seed?: number;
  /** Default `fail`. */
  mode?: FaultMode;
  /** Which operations are counted and may fault (default all). */
  ops?: readonly FaultOp[];
  /** Only requests on keys (get, put, delete) or prefixes (list) matching this are counted and may fault (default all). */
  keys?: RegExp;
  /** The kind of the injected BlockVfsError (default `transient`). */
  kind?: ErrorKind;
}

export interface FaultControl {
  /** Requests counted so far (of the selected ops, faulted or not, enabled or not). */
  readonly requests: number;
  /** Faults injected so far. */
  readonly injected: number;
  enable(): void;
  /** Stops injecting; requests are still counted, so indexes stay those of the whole run. */
  disable(): void;
  /** Rejects every request hanging now (mode `hang`). */
  releaseHung(): void;
  /**
   * Faults `count` counted requests (default 1) after letting `skip` more through
   * (default 0), whatever the other options say: a failure at a moment a test chooses.
   */
  failNext(count?: number, skip?: number): void;
}

export type FaultyStore = BlockStore & { readonly faults: FaultControl };

const SOURCE = '@blockvfs/core';
const ALL_OPS: readonly FaultOp[] = ['get', 'put', 'delete', 'list'];

/**
 * Makes chosen requests to `store` fail, for crash and retry tests. A request is
 * what a provider would see: one per get or put, one per batch of
 * `capabilities.maxDeleteBatch` keys of a delete (batches are sent one after the
 * other, so a fault in batch 2 leaves batch 1 done), one per started 1000 entries
 * of a list. With none of `at`, `every` and `probability`, every counted request
 * faults (a store that is down; pair with `disable()`/`enable()`).
 *
 * Deterministic: which requests fault depends only on the options and on the order
 * of the counted requests. The PRNG is drawn once per counted request, even while
 * disabled, so that disabling for a while does not shift the later choices.
 */
export function withFaults(store: BlockStore, options: FaultOptions = {}): FaultyStore {
  const at = new Set(typeof options.at === 'number' ? [options.at] : (options.at ?? []));
  const { every, probability } = options;
  const mode = options.mode ?? 'fail';
  const ops = new Set(options.ops ?? ALL_OPS);
  const kind = options.kind ?? 'transient';
  const invalid = (message: string): BlockVfsError => new BlockVfsError('invalid', message, { source: SOURCE, store: store.name });
  if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) throw invalid(`faults: every must be a positive integer, got ${every}`);
  if (probability !== undefined && !(probability >= 0 && probability <= 1)) throw invalid(`faults: probability must be within 0…1, got ${probability}`);
  for (const index of at) if (!Number.isSafeInteger(index) || index < 1) throw invalid(`faults: at must hold 1-based request indexes, got ${index}`);
  const always = options.at === undefined && every === undefined && probability === undefined;
  const keys = options.keys;
  /** Request indexes that `failNext` chose to fault. */
  const forced = new Set<number>();
  const random = mulberry32(options.seed ?? 1);

  let requests = 0;
  let injected = 0;
  let enabled = true;
  let hung: Array<() => void> = [];

  /** Counts one request of `op` and returns the error to inject, if this one faults. */
  const decide = (op: FaultOp, what: string, key: string): BlockVfsError | undefined => {
    if (!ops.has(op) || (keys !== undefined && !keys.test(key))) return undefined;
    requests += 1;
    const draw = random(); // drawn for every request, whatever else decides
    if (forced.delete(requests)) {
      injected += 1;
      return new BlockVfsError(kind, `injected fault: ${what} (request ${requests})`, { source: SOURCE, store: store.name });
    }
    const faults = always || at.has(requests) || (every !== undefined && requests % every === 0) || (probability !== undefined && draw < probability);
    if (!faults || !enabled) return undefined;
    injected += 1;
    return new BlockVfsError(kind, `injected fault: ${what} (request ${requests})`, { source: SOURCE, store: store.name });
  };

  /** Runs one request under the fault plan. */
  const request = async <T>(op: FaultOp, what: string, key: string, run: () => Promise<T>): Promise<T> => {
    const fault = decide(op, what, key);
    if (!fault) return run();
    if (mode === 'fail') throw fault;
    if (mode === 'hang') {
      await new Promise<void>((release) => hung.push(release));
      throw fault;
    }
    await run();
    throw fault;
  };

  return {
    name: store.name,
    capabilities: store.capabilities,
    faults: {
      get requests() {
        return requests;
      },
      get injected() {
        return injected;
      },
      enable() {
        enabled = true;
      },
      disable() {
        enabled = false;
      },
      releaseHung() {
        const released = hung;
        hung = [];
        for (const release of released) release();
      },
      failNext(count = 1, skip = 0) {
        if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(skip) || skip < 0) {
          throw invalid(`faults: failNext needs a positive count and a non-negative skip, got ${count} and ${skip}`);
        }
        for (let i = 1; i <= count; i++) forced.add(requests + skip + i);
      },
    },
    get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      return request('get', `get "${key}"`, key, () => store.get(key, range));
    },
    put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      return request('put', `put "${key}"`, key, () => store.put(key, data, condition));
    },
    async delete(keys: readonly string[]): Promise<void> {
      if (keys.length === 0 || !ops.has('delete')) return store.delete(keys);
      const batch = Math.max(1, store.capabilities.maxDeleteBatch);
      for (let start = 0; start < keys.length; start += batch) {
        const part = keys.slice(start, start + batch);
        const what = part.length === 1 ? `delete "${part[0]}"` : `delete ${part.length} keys from "${part[0]}"`;
        await request('delete', what, part[0] as string, () => store.delete(part));
      }
    },
    list(prefix: string, listOptions?: ListOptions): AsyncIterable<ListEntry> {
      const inner = store.list(prefix, listOptions);
      if (!ops.has('list')) return inner;
      let pending: BlockVfsError | undefined;
      const what = (page: number): string => `list "${prefix}"${page > 1 ? ` page ${page}` : ''}`;
      return listInPages(inner, {
        // The page request itself is the inner iterator's next step, so the modes act around it.
        before: async (page) => {
          pending = decide('list', what(page), prefix);
          if (!pending || mode === 'fail-after') return;
          if (mode === 'hang') await new Promise<void>((release) => hung.push(release));
          throw pending;
        },
        after: () => {
          if (pending) throw pending;
        },
      });
    },
  };
}

/** A small, fast, well-known 32-bit PRNG (Tommy Ettinger's Mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
