import { BlockVfsError, type AtomicOptions, type BlockStore, type Layout } from '@blockvfs/core';
import { AsyncQueue } from './async-queue.js';
import { createVfs, type BlockVFS } from './vfs/block-vfs.js';
import type { BlockVfsOptions } from './vfs/options.js';
import { fileKey } from './store-files.js';
import { loadWaSqlite, type Build, type WaSqlite } from './wa-sqlite-adapter.js';

/**
 * What a Database runs on: an engine, one SQLite module with the queue of the calls into
 * it. A module must never be entered by two calls at once (with Asyncify it silently
 * returns wrong results, with JSPI it can corrupt a database), and a call suspends its
 * module for as long as a VFS method awaits the store. So each Database has an engine
 * of its own: calls on different Databases run side by side, each waiting only for its
 * own store requests, while the calls on one Database take turns in its queue.
 *
 * The code of a build is compiled once per process (wa-sqlite-adapter.ts); an engine
 * costs an instantiation (about 20 ms) and well under 1 MiB of resident memory until its
 * database is used. A closed Database gives its engine back to a small pool, so that the
 * next open usually costs no instantiation at all.
 */
export interface Engine {
  readonly sqlite: WaSqlite;
  readonly queue: AsyncQueue;
}

/** Idle engines kept per build for the next open (an open beyond them instantiates). */
export const MAX_IDLE_ENGINES = 8;
const idle = new Map<Build, Engine[]>();

/** An engine of the build for one Database: an idle one, or a new one. */
export async function acquireEngine(build: Build): Promise<Engine> {
  const spare = idle.get(build)?.pop();
  if (spare) return spare;
  return { sqlite: await loadWaSqlite(build), queue: new AsyncQueue() };
}

/**
 * Makes exactly `count` idle engines of the build ready (creating or dropping some):
 * opening that many Databases then costs no instantiation. A server can warm up at start;
 * `warmEngines(0)` frees the idle ones' memory at once. Deterministic tests call it
 * before each run, so that no run depends on what ran before it.
 */
export async function warmEngines(count: number, build: Build = 'asyncify'): Promise<void> {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_IDLE_ENGINES) {
    throw new BlockVfsError('invalid', `warmEngines: count must be a whole number from 0 to ${MAX_IDLE_ENGINES}, got ${count}`, {
      source: '@blockvfs/vfs-wasqlite',
    });
  }
  const pool = idle.get(build) ?? [];
  idle.set(build, pool);
  pool.splice(count);
  while (pool.length < count) pool.push({ sqlite: await loadWaSqlite(build), queue: new AsyncQueue() });
}

/** Gives back the engine of a closed Database (one with every VFS released), for the next open. */
export function releaseEngine(engine: Engine): void {
  if (registrations.get(engine.sqlite)?.size) return; // still serving a VFS (a close that failed half-way): let it go
  const pool = idle.get(engine.sqlite.build) ?? [];
  idle.set(engine.sqlite.build, pool);
  if (pool.length < MAX_IDLE_ENGINES) pool.push(engine);
}

/** A registered VFS and how many connections use it. */
interface Registration {
  vfs: BlockVFS;
  users: number;
}

/** The VFSs registered in each module, by store and options. */
const registrations = new WeakMap<WaSqlite, Map<string, Map<BlockStore, Registration>>>();
let vfsCounter = 0;

export interface VfsLease {
  readonly vfs: BlockVFS;
  /** Gives the VFS back; the last user unregisters it, so that the store can be collected. */
  release(): void;
}

/**
 * The VFS serving `store` with this layout, block size and atomic-layout options in
 * `sqlite`, registered on first use. Call within the engine's queue.
 */
export function acquireVfs(
  sqlite: WaSqlite,
  store: BlockStore,
  options: Omit<BlockVfsOptions, 'store'> & { layout: Layout; blockSize: number; atomic?: AtomicOptions | undefined },
): VfsLease {
  let byKey = registrations.get(sqlite);
  if (!byKey) {
    byKey = new Map();
    registrations.set(sqlite, byKey);
  }
  const key = fileKey(`${options.layout}/${options.blockSize}`, options.atomic);
  let byStore = byKey.get(key);
  if (!byStore) {
    byStore = new Map();
    byKey.set(key, byStore);
  }
  let registration = byStore.get(store);
  if (!registration) {
    vfsCounter += 1;
    const { atomic, ...rest } = options;
    const vfs = createVfs(`blockvfs-${vfsCounter}`, sqlite.module, { ...rest, store, ...(atomic === undefined ? {} : { atomic }) });
    sqlite.registerVfs(vfs);
    registration = { vfs, users: 0 };
    byStore.set(store, registration);
  }
  registration.users += 1;
  const held = registration;
  const stores = byStore;
  const keys = byKey;
  let released = false;
  return {
    vfs: held.vfs,
    release() {
      if (released) return;
      released = true;
      held.users -= 1;
      // A VFS with files still open (a close that failed half-way) stays registered.
      if (held.users === 0 && held.vfs.openFileCount === 0) {
        stores.delete(store);
        if (stores.size === 0) keys.delete(key);
        sqlite.unregisterVfs(held.vfs.name);
      }
    },
  };
}
