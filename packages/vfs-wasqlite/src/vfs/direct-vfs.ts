import { BlockVfsError } from '@blockvfs/core';
import { SQLITE_BUSY, SQLITE_IOCAP_POWERSAFE_OVERWRITE, SQLITE_IOERR_ACCESS, SQLITE_IOERR_DELETE, SQLITE_IOERR_FSYNC, SQLITE_OK } from '../sqlite-codes.js';
import { storeFiles } from '../store-files.js';
import type { WasmModule } from '../wa-sqlite-adapter.js';
import { BaseVFS, SOURCE, type VfsLayout } from './base-vfs.js';
import type { BlockVfsOptions } from './options.js';

/**
 * The direct layout (sqlite-s3vfs's): SQLite's rollback journal lives on the store
 * (`app.db-journal/…`), as it is what makes a commit crash-safe there, blocks being
 * overwritten in place; so SQLITE_IOCAP_BATCH_ATOMIC must NOT be advertised. The
 * connections of a process share each file (one view, one lock table per store).
 */
const DIRECT: VfsLayout = {
  layout: 'direct',
  asyncMethods: new Set(['xOpen', 'xClose', 'xRead', 'xWrite', 'xTruncate', 'xSync', 'xDelete', 'xAccess']),
  journal: 'store',
  mainDeviceCharacteristics: SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  files: storeFiles,
};

/**
 * The VFS of the direct layout: database `app.db` is the objects `app.db/0000000000`, …
 * and its journal `app.db-journal/…`. Lock is synchronous (SQLite's lock levels among
 * the process's connections); sync writes the buffered blocks; access and delete ask
 * the store, since SQLite looks for a hot journal there.
 */
export class DirectVFS extends BaseVFS {
  constructor(name: string, module: WasmModule, options: BlockVfsOptions) {
    super(name, module, options, DIRECT);
    if (options.atomic !== undefined) {
      throw new BlockVfsError('invalid', `atomic-layout options were given for layout "${this.layout}"`, { source: SOURCE, store: this.store.name });
    }
  }

  protected override missingReason(filename: string): string {
    return `no block ${filename}/0000000000`;
  }

  /**
   * Another process may have crashed mid-commit since this one last used the database,
   * leaving a hot journal on the store: what this process knew about the journal is
   * re-learned at open.
   */
  protected override loadingDatabase(filename: string): void {
    this.files.markUncertain(`${filename}-journal`);
  }

  override async jSync(fileId: number, _flags: number): Promise<number> {
    try {
      const open = this.openFile(fileId);
      if (open.kind === 'store') await this.files.sync(open.key, open.file);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_FSYNC);
    }
  }

  override jLock(fileId: number, lockType: number): number {
    const open = this.findFile(fileId);
    if (open?.kind !== 'store' || !open.lock) return SQLITE_OK;
    return open.lock.lock(open.holder, lockType) ? SQLITE_OK : SQLITE_BUSY;
  }

  override async jDelete(filename: string, _syncDir: number): Promise<number> {
    try {
      // No -wal file is ever created here; SQLite's probing for one needs no request.
      if (isWalName(filename)) return SQLITE_OK;
      await this.files.delete(filename, this.blockSize);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_DELETE);
    }
  }

  /** Every access mode (SQLITE_ACCESS_EXISTS, _READWRITE, _READ) is answered by existence. */
  override async jAccess(filename: string, _flags: number, pResOut: DataView): Promise<number> {
    try {
      const exists = isWalName(filename) ? false : await this.files.exists(filename);
      pResOut.setInt32(0, exists ? 1 : 0, true);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_ACCESS);
    }
  }
}

function isWalName(name: string): boolean {
  return name.endsWith('-wal');
}
