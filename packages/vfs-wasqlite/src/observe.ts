import createDebug from 'debug';
import { withRequestLog, type BlockStore, type RequestEvent, type RequestListener } from '@blockvfs/core';
import type { CommitEvent } from '@blockvfs/core/format';

/**
 * What a Database tells about its work: each store request and each commit, to the
 * application's own listeners (`onRequest`, `onCommit`) and, without code changes, to
 * standard error through the `debug` package: `DEBUG=blockvfs:*` (or
 * `blockvfs:request`, `blockvfs:commit`).
 */
const requestDebug = createDebug('blockvfs:request');
const commitDebug = createDebug('blockvfs:commit');

interface Hub {
  readonly store: BlockStore;
  readonly listeners: Set<RequestListener>;
}

/**
 * One observed store per store object, for the whole process: every connection to a
 * store must see the same object, since the process's block caches and the direct
 * layout's lock tables are kept per store object (two wrappers of one store would lose
 * each other's locks). With no listener, requests go straight to the store.
 */
const hubs = new WeakMap<BlockStore, Hub>();

function hubOf(store: BlockStore): Hub {
  let hub = hubs.get(store);
  if (!hub) {
    const listeners = new Set<RequestListener>();
    const logged = withRequestLog(store, (event) => {
      for (const listener of listeners) listener(event);
    });
    const observed: BlockStore = {
      name: store.name,
      capabilities: store.capabilities,
      get: (key, range) => (listeners.size === 0 ? store.get(key, range) : logged.get(key, range)),
      put: (key, data, condition) => (listeners.size === 0 ? store.put(key, data, condition) : logged.put(key, data, condition)),
      delete: (keys) => (listeners.size === 0 ? store.delete(keys) : logged.delete(keys)),
      list: (prefix, options) => (listeners.size === 0 ? store.list(prefix, options) : logged.list(prefix, options)),
    };
    // A store wrapped in withCache stays recognisable as one: the atomic layout refuses it (its
    // head would be read stale), and what may be answered from its cache is asked of the cache.
    const { cache } = store as { cache?: unknown };
    if (cache !== undefined) Object.assign(observed, { cache });
    hub = { store: observed, listeners };
    hubs.set(store, hub);
  }
  return hub;
}

/** Whether a request's key belongs to database `name`: its objects, its journal's (direct layout), or the object `name` itself. */
function belongsTo(key: string, name: string): boolean {
  return key === name || key.startsWith(`${name}/`) || key.startsWith(`${name}-journal`);
}

export interface Observation {
  /** The store the database must use (the same object for every connection to `store`). */
  store: BlockStore;
  /** What the atomic layout calls after each commit, when anyone listens. */
  onCommit: ((event: CommitEvent) => void) | undefined;
  /** Stops telling this database's requests (at close). */
  stop(): void;
}

export function observe(
  store: BlockStore,
  name: string,
  listeners: { onRequest?: RequestListener | undefined; onCommit?: ((event: CommitEvent) => void) | undefined },
): Observation {
  const hub = hubOf(store);
  const { onRequest, onCommit } = listeners;
  let listener: RequestListener | undefined;
  if (onRequest || requestDebug.enabled) {
    listener = (event: RequestEvent) => {
      if (!belongsTo(event.key, name)) return;
      if (requestDebug.enabled)
        requestDebug('%s %s %s %s B %s ms %s', event.store, event.op, describeKey(event), event.bytes, event.ms.toFixed(1), event.outcome);
      onRequest?.(event);
    };
    hub.listeners.add(listener);
  }
  const tellCommit =
    onCommit || commitDebug.enabled
      ? (event: CommitEvent) => {
          if (commitDebug.enabled) {
            commitDebug(
              '%s commit %d: %d blocks, %d B%s, size %d B, %d ms',
              event.name,
              event.seq,
              event.blocks,
              event.bytes,
              event.inline ? ' inline' : '',
              event.size,
              event.ms,
            );
          }
          onCommit?.(event);
        }
      : undefined;
  return {
    store: hub.store,
    onCommit: tellCommit,
    stop() {
      if (listener) hub.listeners.delete(listener);
    },
  };
}

function describeKey(event: RequestEvent): string {
  if (event.op === 'delete') return `${event.key}${event.keys !== undefined && event.keys > 1 ? ` (+${event.keys - 1} keys)` : ''}`;
  if (event.op === 'list') return `${event.key}* (${event.keys ?? 0} entries)`;
  if (event.range) return `${event.key} [${event.range.offset}+${event.range.length ?? '…'}]`;
  return event.condition ? `${event.key} (${event.condition})` : event.key;
}
