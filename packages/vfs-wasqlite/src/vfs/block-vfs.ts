import { DEFAULT_LAYOUT, type Layout } from '@blockvfs/core';
import { checkLayout } from '@blockvfs/core/format';
import type { WasmModule } from '../wa-sqlite-adapter.js';
import { AtomicVFS } from './atomic-vfs.js';
import { BaseVFS } from './base-vfs.js';
import { DirectVFS } from './direct-vfs.js';
import type { BlockVfsOptions } from './options.js';

/** The VFS class of each layout. */
const VFS_CLASSES: Record<Layout, new (name: string, module: WasmModule, options: BlockVfsOptions) => BaseVFS> = {
  atomic: AtomicVFS,
  direct: DirectVFS,
};

/** A new VFS of the layout `options.layout` (default `atomic`) over `options.store`. */
export function createVfs(name: string, module: WasmModule, options: BlockVfsOptions): BlockVFS {
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  return new VFS_CLASSES[layout](name, module, options);
}

/**
 * A wa-sqlite VFS over one BlockStore: an AtomicVFS or a DirectVFS, by layout. The name
 * SQLite opens is the file's name on the store: in the atomic layout database `app.db`
 * is the objects under `app.db/` (blocks, commit records, checkpoints, head), with the
 * rollback journal in memory; in the direct layout it is `app.db/0000000000`, … and its
 * journal `app.db-journal/…`. Temp files stay in memory.
 *
 * Read and, in the atomic layout, lock answer from memory when they can, with a
 * `settled()` result that needs no suspend: a point query on cached pages then makes no
 * async call at all. No exception ever leaves a method: it is kept (see `takeLastError`)
 * and SQLite gets an SQLITE_IOERR_* code fitting the operation.
 *
 * Register it with the module it was built for (`sqlite3.vfs_register(vfs)`), then open
 * databases with that VFS name. Every call into one module must be serialised.
 */
export type BlockVFS = BaseVFS;

/** What `BlockVFS` is as a value: `new BlockVFS(name, module, options)` builds the VFS of `options.layout`. */
export interface BlockVfsConstructor {
  new (name: string, module: WasmModule, options: BlockVfsOptions): BlockVFS;
  readonly prototype: BlockVFS;
}

/**
 * `new BlockVFS(name, module, { store, layout?, … })` returns createVfs's AtomicVFS or
 * DirectVFS (a constructor may return another object), and `vfs instanceof BlockVFS`
 * holds for both: its prototype is their base class's. Kept for wa-sqlite users, who
 * built one class for every layout before there was a class per layout.
 */
function constructBlockVfs(name: string, module: WasmModule, options: BlockVfsOptions): BlockVFS {
  return createVfs(name, module, options);
}
constructBlockVfs.prototype = BaseVFS.prototype;
export const BlockVFS = constructBlockVfs as unknown as BlockVfsConstructor;
