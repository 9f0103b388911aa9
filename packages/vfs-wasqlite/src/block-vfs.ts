import { BlockVfsError, DEFAULT_BLOCK_SIZE, checkLayout, type BlockStore, type Layout, type PagedFile } from '@blockvfs/core';
import { layoutPolicy, type LayoutPolicy } from './layout-policy.js';
import { MemoryFile } from './memory-file.js';
import type { FileLock } from './lock-table.js';
import {
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_ERROR,
  SQLITE_FCNTL_PRAGMA,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR_ACCESS,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_DELETE,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_WRITE,
  SQLITE_LOCK_NONE,
  SQLITE_NOTFOUND,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_MAIN_JOURNAL,
  SQLITE_OPEN_SUPER_JOURNAL,
  SQLITE_OPEN_WAL,
} from './sqlite-codes.js';
import { storeFiles, type StoreFiles } from './store-files.js';
import { FacadeVFS, type WasmModule } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

/** Why WAL is refused, in one place for the VFS and the Database API. */
export const WAL_UNSUPPORTED =
  'journal_mode=WAL is not available on an object store: WAL needs memory shared by every connection and process ' +
  'using the database (the -shm file), which object stores cannot provide. Use a rollback journal mode instead: ' +
  'DELETE (the default), TRUNCATE, PERSIST, MEMORY or OFF.';

export interface BlockVfsOptions {
  /** Where the database files live. */
  store: BlockStore;
  /** On-store layout (default `direct`). */
  layout?: Layout;
  /** Block size for new files (default 4096); an existing file keeps its own. */
  blockSize?: number;
  /** Called with every VFS call (FacadeVFS's `log` hook), e.g. to count them. */
  trace?: (method: string, ...args: unknown[]) => void;
}

/** A file SQLite opened: on the store (main database, rollback journal) or in memory (temp files). */
type OpenFile =
  | { kind: 'store'; name: string; role: 'main' | 'journal'; file: PagedFile; lock: FileLock | undefined }
  | { kind: 'memory'; name: string | null; file: MemoryFile };

/**
 * A wa-sqlite VFS over one BlockStore. The name SQLite opens is the file's name on
 * the store: database `app.db` is the objects `app.db/0000000000`, … and its rollback
 * journal `app.db-journal/…`. Temp files stay in memory.
 *
 * Methods that may wait for the store are native async functions (wa-sqlite suspends
 * SQLite around them); lock, unlock, sector size, device characteristics, reserved-lock
 * check, file size and file control stay synchronous, as each async call costs a
 * suspend and resume. No exception ever leaves a method: it is kept (see
 * `takeLastError`) and SQLite gets an SQLITE_IOERR_* code fitting the operation.
 *
 * Register it with the module it was built for (`sqlite3.vfs_register(vfs)`), then open
 * databases with that VFS name. Every call into one module must be serialised.
 */
export class BlockVFS extends FacadeVFS {
  readonly store: BlockStore;
  readonly layout: Layout;
  readonly blockSize: number;
  readonly #policy: LayoutPolicy;
  readonly #module: WasmModule;
  readonly #files: StoreFiles;
  readonly #open = new Map<number, OpenFile>();
  #lastError: unknown;

  constructor(name: string, module: WasmModule, options: BlockVfsOptions) {
    super(name, module);
    this.#module = module;
    this.store = options.store;
    this.layout = checkLayout(options.layout ?? 'direct');
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1) {
      throw new BlockVfsError('invalid', `block size must be a positive integer, got ${this.blockSize}`, { source: SOURCE, store: this.store.name });
    }
    this.#policy = layoutPolicy(this.layout);
    this.#files = storeFiles(this.store);
    // Store names can be longer than FacadeVFS's default of 64 bytes.
    this.mxPathname = 1024;
    if (options.trace) (this as unknown as { log: BlockVfsOptions['trace'] }).log = options.trace;
  }

  /**
   * The first error a method of this VFS caught since the last call (a store's
   * BlockVfsError, usually), and forgets it. SQLite only sees a result code; this is
   * how the caller learns the reason.
   */
  takeLastError(): unknown {
    const error = this.#lastError;
    this.#lastError = undefined;
    return error;
  }

  /** Open files (for tests and diagnostics). */
  get openFileCount(): number {
    return this.#open.size;
  }

  #fail(error: unknown, code: number): number {
    this.#lastError ??= error;
    return code;
  }

  override async jOpen(filename: string | null, fileId: number, flags: number, pOutFlags: DataView): Promise<number> {
    try {
      if (flags & SQLITE_OPEN_WAL) {
        return this.#fail(new BlockVfsError('invalid', `cannot open "${filename}": ${WAL_UNSUPPORTED}`, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
      }
      const role = flags & SQLITE_OPEN_MAIN_DB ? 'main' : flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL) ? 'journal' : undefined;
      const onStore = filename !== null && !(flags & SQLITE_OPEN_DELETEONCLOSE) && role !== undefined && (role === 'main' || this.#policy.journal === 'store');
      if (!onStore) {
        this.#open.set(fileId, { kind: 'memory', name: filename, file: new MemoryFile() });
      } else {
        const file = await this.#files.open(filename, { layout: this.layout, blockSize: this.blockSize, keep: role === 'journal' });
        if (role === 'main' && file.size === 0 && !(flags & SQLITE_OPEN_CREATE)) {
          await this.#files.close(filename);
          const message = `database "${filename}" does not exist (no block ${filename}/0000000000)`;
          return this.#fail(new BlockVfsError('not-found', message, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
        }
        const lock = role === 'main' ? this.#files.lock(filename) : undefined;
        this.#open.set(fileId, { kind: 'store', name: filename, role, file, lock });
      }
      pOutFlags.setInt32(0, flags, true);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_CANTOPEN);
    }
  }

  override async jClose(fileId: number): Promise<number> {
    const open = this.#open.get(fileId);
    this.#open.delete(fileId);
    if (open?.kind !== 'store') return SQLITE_OK;
    try {
      open.lock?.unlock(fileId, SQLITE_LOCK_NONE);
      await this.#files.close(open.name);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_CLOSE);
    }
  }

  override async jRead(fileId: number, pData: Uint8Array, offset: number): Promise<number> {
    try {
      const open = this.#file(fileId);
      let count: number;
      if (open.kind === 'memory') {
        count = open.file.read(pData.subarray(), offset);
      } else {
        // Read into our own buffer: wasm memory may be replaced while we await.
        const buffer = new Uint8Array(pData.length);
        count = await open.file.read(buffer, offset);
        pData.set(buffer);
      }
      return count < pData.length ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_READ);
    }
  }

  override async jWrite(fileId: number, pData: Uint8Array, offset: number): Promise<number> {
    const open = this.#open.get(fileId);
    try {
      if (!open) throw this.#unknownFile(fileId);
      if (open.kind === 'memory') open.file.write(pData.subarray(), offset);
      else await open.file.write(pData.slice(), offset); // a copy: PagedFile may keep it past this call
      return SQLITE_OK;
    } catch (error) {
      if (open?.kind === 'store') this.#files.markUncertain(open.name); // a write may flush early
      return this.#fail(error, SQLITE_IOERR_WRITE);
    }
  }

  override async jTruncate(fileId: number, size: number): Promise<number> {
    try {
      const open = this.#file(fileId);
      if (open.kind === 'memory') open.file.truncate(size);
      else await open.file.truncate(size);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_TRUNCATE);
    }
  }

  override async jSync(fileId: number, _flags: number): Promise<number> {
    try {
      const open = this.#file(fileId);
      if (open.kind === 'store') await this.#files.sync(open.name, open.file);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_FSYNC);
    }
  }

  /** Synchronous: the size (including unsynced writes) is tracked in memory. */
  override jFileSize(fileId: number, pSize: DataView): number {
    const open = this.#open.get(fileId);
    if (!open) return this.#fail(this.#unknownFile(fileId), SQLITE_IOERR_READ);
    pSize.setBigInt64(0, BigInt(open.file.size), true);
    return SQLITE_OK;
  }

  override async jDelete(filename: string, _syncDir: number): Promise<number> {
    try {
      // No -wal file is ever created here; SQLite's probing for one needs no request.
      if (isWalName(filename)) return SQLITE_OK;
      await this.#files.delete(filename, this.blockSize);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_DELETE);
    }
  }

  /** Every access mode (SQLITE_ACCESS_EXISTS, _READWRITE, _READ) is answered by existence. */
  override async jAccess(filename: string, _flags: number, pResOut: DataView): Promise<number> {
    try {
      const exists = isWalName(filename) ? false : await this.#files.exists(filename);
      pResOut.setInt32(0, exists ? 1 : 0, true);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_ACCESS);
    }
  }

  override jLock(fileId: number, lockType: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store' || !open.lock) return SQLITE_OK;
    return open.lock.lock(fileId, lockType) ? SQLITE_OK : SQLITE_BUSY;
  }

  override jUnlock(fileId: number, lockType: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind === 'store') open.lock?.unlock(fileId, lockType);
    return SQLITE_OK;
  }

  override jCheckReservedLock(fileId: number, pResOut: DataView): number {
    const open = this.#open.get(fileId);
    const reserved = open?.kind === 'store' && open.lock ? open.lock.reserved() : false;
    pResOut.setInt32(0, reserved ? 1 : 0, true);
    return SQLITE_OK;
  }

  /** Refuses `PRAGMA journal_mode=WAL` with a clear message (SQLite hands every PRAGMA to the VFS first). */
  override jFileControl(_fileId: number, op: number, pArg: DataView): number {
    if (op !== SQLITE_FCNTL_PRAGMA) return SQLITE_NOTFOUND;
    try {
      // pArg points at char *azArg[3]: [0] our error message (out), [1] the pragma name, [2] its argument or NULL.
      const namePointer = pArg.getUint32(4, true);
      const valuePointer = pArg.getUint32(8, true);
      const name = this.#module.UTF8ToString(namePointer).toLowerCase();
      const value = valuePointer ? this.#module.UTF8ToString(valuePointer).trim().toLowerCase() : undefined;
      if (name !== 'journal_mode' || value !== 'wal') return SQLITE_NOTFOUND;
      const error = new BlockVfsError('invalid', WAL_UNSUPPORTED, { source: SOURCE, store: this.store.name });
      this.#lastError ??= error;
      this.#setPragmaError(pArg.byteOffset - this.#module.HEAPU8.byteOffset, error.message);
      return SQLITE_ERROR;
    } catch (error) {
      return this.#fail(error, SQLITE_ERROR);
    }
  }

  override jSectorSize(_fileId: number): number {
    return 512;
  }

  override jDeviceCharacteristics(fileId: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store') return 0;
    return open.role === 'main' ? this.#policy.mainDeviceCharacteristics : SQLITE_IOCAP_POWERSAFE_OVERWRITE;
  }

  /** Stores `message` as azArg[0], allocated with sqlite3_malloc since SQLite frees it. */
  #setPragmaError(argPointer: number, message: string): void {
    const bytes = new TextEncoder().encode(message);
    const pointer = this.#module._sqlite3_malloc(bytes.length + 1);
    if (!pointer) return;
    const heap = this.#module.HEAPU8; // re-read: malloc may have grown memory
    heap.set(bytes, pointer);
    heap[pointer + bytes.length] = 0;
    new DataView(heap.buffer, heap.byteOffset + argPointer).setUint32(0, pointer, true);
  }

  #file(fileId: number): OpenFile {
    const open = this.#open.get(fileId);
    if (!open) throw this.#unknownFile(fileId);
    return open;
  }

  #unknownFile(fileId: number): BlockVfsError {
    return new BlockVfsError('invalid', `no open file with id ${fileId}`, { source: SOURCE, store: this.store.name });
  }
}

function isWalName(name: string): boolean {
  return name.endsWith('-wal');
}
