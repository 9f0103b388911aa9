import type { AtomicOptions, BlockStore, Layout } from '@blockvfs/core';

export interface BlockVfsOptions {
  /** Where the database files live. */
  store: BlockStore;
  /** On-store layout (default `atomic`). */
  layout?: Layout;
  /** Block size for new files (default `defaultBlockSize(layout)`: 64 KiB atomic, 4096 direct); an existing file keeps its own. */
  blockSize?: number;
  /** Options of the atomic layout (lease, freshness, asOf, …). */
  atomic?: AtomicOptions;
  /** Called with every VFS call (FacadeVFS's `log` hook), e.g. to count them. */
  trace?: (method: string, ...args: unknown[]) => void;
  /**
   * The busy timeout of the connection this VFS serves (a Database's), which `PRAGMA
   * busy_timeout` reads and sets here instead of SQLite's own busy handler, whose sleep
   * would block the whole process. Absent: that pragma goes to SQLite.
   */
  busy?: { timeout: number };
}
