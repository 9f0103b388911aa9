import type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '../block-store.js';
import { isBlockVfsError, type ErrorKind } from '../errors.js';

/** One request a store was asked to make, reported when it has finished. */
export interface RequestEvent {
  /** The store's name (`BlockStore.name`). */
  store: string;
  op: 'get' | 'put' | 'delete' | 'list';
  /** The object's key; for `delete` the first of the keys, for `list` the prefix. */
  key: string;
  /** `delete`: how many keys; `list`: how many entries were yielded. */
  keys?: number;
  /** `get`: the range asked for, when one was. */
  range?: ByteRange;
  /** `put`: the condition, when there was one. */
  condition?: 'if-none-match' | 'if-match';
  /** Bytes read (`get`) or sent (`put`); 0 otherwise. */
  bytes: number;
  /** Wall-clock milliseconds from the call to its answer (for `list`, to the end of the listing). */
  ms: number;
  /** `ok`; `missing` for a `get` of no object; or the kind of the BlockVfsError it failed with (`error` for any other failure). */
  outcome: 'ok' | 'missing' | ErrorKind | 'error';
  /** The failure, when there was one. */
  error?: unknown;
}

export type RequestListener = (event: RequestEvent) => void;

/**
 * Tells `onRequest` about every request made to `store`, when it has finished: what
 * it was, how many bytes, how long it took and how it ended. For an application's own
 * logger or metrics, and behind `DEBUG=blockvfs:request`. A listener that throws is
 * ignored: a log must never fail a request. Wrap the layer whose traffic you want to
 * see, as with withMetrics.
 */
export function withRequestLog(store: BlockStore, onRequest: RequestListener): BlockStore {
  /** `ended`: how the request ended, when not plainly 'ok' ('missing', or the error it threw). */
  const report = (event: Omit<RequestEvent, 'store' | 'ms' | 'outcome'>, started: number, ended?: 'missing' | { error: unknown }): void => {
    const full: RequestEvent = { store: store.name, ...event, ms: performance.now() - started, outcome: 'ok' };
    if (ended === 'missing') full.outcome = 'missing';
    else if (ended !== undefined) {
      full.outcome = isBlockVfsError(ended.error) ? ended.error.kind : 'error';
      full.error = ended.error;
    }
    try {
      onRequest(full);
    } catch {
      // A broken listener must not turn a finished request into a failure.
    }
  };
  return {
    name: store.name,
    capabilities: store.capabilities,
    async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
      const started = performance.now();
      const event = range === undefined ? { op: 'get' as const, key } : { op: 'get' as const, key, range };
      try {
        const data = await store.get(key, range);
        report({ ...event, bytes: data?.length ?? 0 }, started, data === undefined ? 'missing' : undefined);
        return data;
      } catch (error) {
        report({ ...event, bytes: 0 }, started, { error });
        throw error;
      }
    },
    async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
      const started = performance.now();
      const kind = condition === undefined ? undefined : 'ifNoneMatch' in condition ? ('if-none-match' as const) : ('if-match' as const);
      const event = { op: 'put' as const, key, bytes: data.length, ...(kind === undefined ? {} : { condition: kind }) };
      try {
        const result = await store.put(key, data, condition);
        report(event, started);
        return result;
      } catch (error) {
        report(event, started, { error });
        throw error;
      }
    },
    async delete(keys: readonly string[]): Promise<void> {
      const started = performance.now();
      const event = { op: 'delete' as const, key: keys[0] ?? '', keys: keys.length, bytes: 0 };
      try {
        await store.delete(keys);
        report(event, started);
      } catch (error) {
        report(event, started, { error });
        throw error;
      }
    },
    list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry> {
      return loggedListing(store.list(prefix, options), (entries, started, failure) =>
        report({ op: 'list', key: prefix, keys: entries, bytes: 0 }, started, failure),
      );
    },
  };
}

/** Re-yields a listing and reports it once, when it ends (finished, failed, or left early by the caller). */
async function* loggedListing(
  source: AsyncIterable<ListEntry>,
  done: (entries: number, started: number, failure?: { error: unknown }) => void,
): AsyncGenerator<ListEntry> {
  const started = performance.now();
  let entries = 0;
  let failure: { error: unknown } | undefined;
  try {
    for await (const entry of source) {
      entries += 1;
      yield entry;
    }
  } catch (error) {
    failure = { error };
    throw error;
  } finally {
    done(entries, started, failure);
  }
}
