import type { AtomicOptions, BlockStore, Layout } from '@blockvfs/core';
import { AsyncQueue } from './async-queue.js';
import { BlockVFS } from './block-vfs.js';
import { fileKey } from './store-files.js';
import { loadWaSqlite, type Build, type WaSqlite } from './wa-sqlite-adapter.js';

/**
 * One SQLite module per build per process, loaded on first use and shared by every
 * connection (a module costs ~25 ms and ~17 MiB). Every call into any module goes
 * through one process-wide queue: a module must never be entered twice at once, and
 * the per-store state (shared files, lock table) must never be touched by two calls
 * at once either, even when two builds are loaded.
 */
export const sqliteQueue = new AsyncQueue();

const modules = new Map<Build, Promise<WaSqlite>>();

export function sqliteModule(build: Build): Promise<WaSqlite> {
  let loading = modules.get(build);
  if (!loading) {
    loading = loadWaSqlite(build);
    modules.set(build, loading);
    loading.catch(() => modules.delete(build)); // let a later call try again
  }
  return loading;
}

/** A registered VFS and how many connections use it. */
interface Registration {
  vfs: BlockVFS;
  users: number;
}

const registrations = new WeakMap<WaSqlite, WeakMap<BlockStore, Map<string, Registration>>>();
let vfsCounter = 0;

export interface VfsLease {
  readonly vfs: BlockVFS;
  /** Gives the VFS back; the last user unregisters it, so that the store can be collected. */
  release(): void;
}

/**
 * The VFS serving `store` with this layout, block size and atomic-layout options in
 * `sqlite`, registered on first use. Call within the queue.
 */
export function acquireVfs(sqlite: WaSqlite, store: BlockStore, layout: Layout, blockSize: number, atomic?: AtomicOptions): VfsLease {
  let byStore = registrations.get(sqlite);
  if (!byStore) {
    byStore = new WeakMap();
    registrations.set(sqlite, byStore);
  }
  let byKey = byStore.get(store);
  if (!byKey) {
    byKey = new Map();
    byStore.set(store, byKey);
  }
  const key = fileKey(`${layout}/${blockSize}`, atomic);
  let registration = byKey.get(key);
  if (!registration) {
    vfsCounter += 1;
    const vfs = new BlockVFS(`blockvfs-${vfsCounter}`, sqlite.module, { store, layout, blockSize, ...(atomic === undefined ? {} : { atomic }) });
    sqlite.registerVfs(vfs);
    registration = { vfs, users: 0 };
    byKey.set(key, registration);
  }
  registration.users += 1;
  const held = registration;
  const map = byKey;
  let released = false;
  return {
    vfs: held.vfs,
    release() {
      if (released) return;
      released = true;
      held.users -= 1;
      // A VFS with files still open (a close that failed half-way) stays registered.
      if (held.users === 0 && held.vfs.openFileCount === 0) {
        map.delete(key);
        sqlite.unregisterVfs(held.vfs.name);
      }
    },
  };
}
