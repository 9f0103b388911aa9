import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withMetrics, type BlockStore } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { MemoryStore } from '@blockvfs/store-memory';

export interface LocalStore {
  store: BlockStore;
  /** Another store object over the same objects: what another process would open. */
  reopen(): BlockStore;
  /** A folder store's root, for child processes. */
  root?: string;
  dispose(): Promise<void>;
}

/** The stores that need no server: memory, and a folder (a fresh temp dir each time). */
export const LOCAL_STORES: Array<{ label: string; create(): Promise<LocalStore> }> = [
  {
    label: 'memory',
    create: async () => {
      const store = new MemoryStore();
      // A wrapper is another store object, so it gets its own process state in the VFS: another "process".
      return { store, reopen: () => withMetrics(store), dispose: async () => undefined };
    },
  },
  {
    label: 'fs',
    create: async () => {
      const root = await mkdtemp(join(tmpdir(), 'blockvfs-workloads-'));
      return { store: new FsStore({ root }), reopen: () => new FsStore({ root }), root, dispose: () => rm(root, { recursive: true, force: true }) };
    },
  },
];
