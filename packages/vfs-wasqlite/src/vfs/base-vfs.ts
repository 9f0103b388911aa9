import { BlockVfsError, defaultBlockSize, type AtomicOptions, type BlockStore, type Layout } from '@blockvfs/core';
import { blockSizeProblem, storeProblem } from '@blockvfs/core/store';
import { checkLayout, type PagedFile } from '@blockvfs/core/format';
import { databaseNameProblem } from '../database-name.js';
import { MemoryFile } from '../memory-file.js';
import type { FileLock } from '../lock-table.js';
import {
  SQLITE_CANTOPEN,
  SQLITE_ERROR,
  SQLITE_FCNTL_BEGIN_ATOMIC_WRITE,
  SQLITE_FCNTL_COMMIT_ATOMIC_WRITE,
  SQLITE_FCNTL_PRAGMA,
  SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_WRITE,
  SQLITE_LOCK_NONE,
  SQLITE_LOCK_RESERVED,
  SQLITE_NOTFOUND,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_MAIN_JOURNAL,
  SQLITE_OPEN_SUPER_JOURNAL,
  SQLITE_OPEN_WAL,
} from '../sqlite-codes.js';
import { settled } from '../settled.js';
import { suspensionsOf } from '../suspensions.js';
import { fileKey, type StoreFiles } from '../store-files.js';
import { FacadeVFS, type WasmModule } from '../wa-sqlite-adapter.js';
import type { BlockVfsOptions } from './options.js';
import { WAL_UNSUPPORTED } from './refusals.js';

export const SOURCE = '@blockvfs/vfs-wasqlite';

/** The last lock holder number given out (see StoreFile's `holder`). */
let lockHolders = 0;

/** A file SQLite opened on the store: the main database, or (direct layout) its rollback journal. */
export interface StoreFile {
  kind: 'store';
  name: string;
  key: string;
  role: 'main' | 'journal';
  file: PagedFile;
  lock: FileLock | undefined;
  /**
   * Who holds `lock`: unique in the process. Not the fileId, which is a pointer into
   * one SQLite module's memory: the connections of the direct layout share a file's
   * lock across modules (one per Database), where two fileIds may be equal.
   */
  holder: number;
  /** This open loaded the file's view (no other handle had it open): the handle's first read transaction may use it as it is. */
  viewFromOpen: boolean;
}

/** A file SQLite opened: on the store, or in memory (temp files; the atomic layout's journal). */
export type OpenFile = StoreFile | { kind: 'memory'; name: string | null; file: MemoryFile };

/** What a speculating call started (see AtomicVFS.speculate): its looks for new commits, and whether it began a write. */
export interface Speculation {
  looks: Promise<boolean>[];
  wrote: boolean;
}

/** What a layout's VFS class tells the base class at construction. */
export interface VfsLayout {
  readonly layout: Layout;
  /**
   * The x-methods entered as async: those that may wait for the store. Every other one
   * is synchronous, as an async call costs a suspend and resume of SQLite.
   */
  readonly asyncMethods: ReadonlySet<string>;
  /** Where the rollback journal (`<name>-journal`) lives. */
  readonly journal: 'store' | 'memory';
  /**
   * Device characteristics of the main database file. POWERSAFE_OVERWRITE holds for
   * every layout: writing part of a block re-puts the whole block object atomically,
   * with the neighbouring bytes unchanged, so SQLite need not journal neighbours.
   */
  readonly mainDeviceCharacteristics: number;
  /** The open files of `store` this VFS works with (shared with other VFSs, or its own). */
  files(store: BlockStore): StoreFiles;
}

/**
 * What the VFS of every layout does (see BlockVFS for the whole picture): opening,
 * closing, reading, writing and sizing files, SQLite's lock levels in the process,
 * file controls and the pragmas SQLite hands to the VFS, and the errors behind result
 * codes. A subclass per layout (DirectVFS, AtomicVFS) adds what differs: lock, sync,
 * access and delete, and what a write transaction's end or a refused pragma means there.
 *
 * Methods that may wait for the store are registered as async (VfsLayout.asyncMethods:
 * wa-sqlite suspends SQLite around them); unlock, sector size, device characteristics,
 * reserved-lock check, file size and file control stay synchronous. No exception ever
 * leaves a method: it is kept (see `takeLastError`) and SQLite gets an SQLITE_IOERR_*
 * code fitting the operation.
 */
export abstract class BaseVFS extends FacadeVFS {
  readonly store: BlockStore;
  readonly layout: Layout;
  readonly blockSize: number;
  protected readonly module: WasmModule;
  protected readonly files: StoreFiles;
  protected readonly trace: BlockVfsOptions['trace'];
  readonly #atomic: AtomicOptions | undefined;
  readonly #setup: VfsLayout;
  readonly #open = new Map<number, OpenFile>();
  readonly #busy: BlockVfsOptions['busy'];
  #lastError: unknown;
  #heapView: DataView | undefined;

  protected constructor(name: string, module: WasmModule, options: BlockVfsOptions, setup: VfsLayout) {
    super(name, module);
    this.module = module;
    this.store = options.store;
    if (options.layout !== undefined && checkLayout(options.layout) !== setup.layout) {
      throw new BlockVfsError('invalid', `layout "${options.layout}" was given to the VFS of layout "${setup.layout}"`, {
        source: SOURCE,
        store: this.store?.name,
      });
    }
    this.layout = setup.layout;
    this.blockSize = options.blockSize ?? defaultBlockSize(setup.layout);
    const problem = storeProblem(this.store) ?? blockSizeProblem(this.blockSize);
    if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store: this.store?.name });
    this.#atomic = options.atomic;
    this.#setup = setup;
    this.files = setup.files(this.store);
    // Store names can be longer than FacadeVFS's default of 64 bytes.
    this.mxPathname = 1024;
    this.trace = options.trace;
    this.#busy = options.busy;
    if (options.trace) (this as unknown as { log: BlockVfsOptions['trace'] }).log = options.trace;
    // Every async x-method reports the promises it answers with: each one suspends SQLite (see Suspensions).
    // It is wrapped here, per instance, so that the list of async methods (VfsLayout) is the only one.
    const self = this as unknown as Record<string, unknown>;
    const suspensions = suspensionsOf(module);
    for (const name of setup.asyncMethods) {
      const method = self[name] as (...args: unknown[]) => number | PromiseLike<number>;
      // Five parameters: the most an x-method takes (xRead, xWrite); no rest array on a call SQLite makes several times per statement.
      self[name] = (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): PromiseLike<number> => {
        let result: number | PromiseLike<number>;
        try {
          result = method.call(this, a, b, c, d, e);
        } catch (error) {
          return settled(this.fail(error, SQLITE_IOERR)); // nothing may escape into SQLite
        }
        if (result instanceof Promise) suspensions.note(result);
        return typeof result === 'number' ? settled(result) : result;
      };
    }
  }

  /** Read once, at registration: which x-methods wa-sqlite enters as async (VfsLayout.asyncMethods). */
  override hasAsyncMethod(methodName: string): boolean {
    return this.#setup.asyncMethods.has(methodName);
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

  /**
   * Lets the read transactions of the call about to run start before they know the
   * database's newest commit (see AtomicVFS.speculate). Nothing in layouts that never
   * look for other writers' commits.
   */
  speculate(): void {}

  /** Ends what `speculate()` began: what it started, or undefined when there is nothing to wait for. */
  endSpeculation(): Speculation | undefined {
    return undefined;
  }

  /** Open files (for tests and diagnostics). */
  get openFileCount(): number {
    return this.#open.size;
  }

  /** The open main database file `name` of this VFS, if any (to checkpoint it or read its commit). */
  mainFile(name: string): PagedFile | undefined {
    return this.files.file(fileKey(name, this.#atomic));
  }

  /** Keeps `error` for takeLastError (the first one wins) and returns SQLite's `code` for it. */
  protected fail(error: unknown, code: number): number {
    this.#lastError ??= error;
    return code;
  }

  /** Why the database `filename`, opened without SQLITE_OPEN_CREATE, counts as missing (for the 'not-found' error). */
  protected abstract missingReason(filename: string): string;

  /** The main database `filename` is being opened with no other handle having it open (its view is loaded now). */
  protected loadingDatabase(_filename: string): void {}

  override async jOpen(filename: string | null, fileId: number, flags: number, pOutFlags: DataView): Promise<number> {
    try {
      if (flags & SQLITE_OPEN_WAL) {
        return this.fail(
          new BlockVfsError('invalid', `cannot open "${filename}": ${WAL_UNSUPPORTED}`, { source: SOURCE, store: this.store.name }),
          SQLITE_CANTOPEN,
        );
      }
      const role = flags & SQLITE_OPEN_MAIN_DB ? 'main' : flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL) ? 'journal' : undefined;
      const onStore = filename !== null && !(flags & SQLITE_OPEN_DELETEONCLOSE) && role !== undefined && (role === 'main' || this.#setup.journal === 'store');
      if (!onStore) {
        this.#open.set(fileId, { kind: 'memory', name: filename, file: new MemoryFile() });
      } else {
        const nameIssue = role === 'main' ? databaseNameProblem(filename) : undefined;
        if (nameIssue)
          return this.fail(new BlockVfsError('invalid', `cannot open database: ${nameIssue}`, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
        const atomic = role === 'main' ? this.#atomic : undefined;
        const key = fileKey(filename, atomic);
        const loads = !this.files.isOpen(key);
        if (role === 'main' && loads) this.loadingDatabase(filename);
        const file = await this.files.open(key, filename, {
          layout: this.layout,
          blockSize: this.blockSize,
          keep: role === 'journal',
          database: role === 'main',
          atomic,
        });
        if (role === 'main' && file.size === 0 && !(flags & SQLITE_OPEN_CREATE)) {
          await this.files.close(key);
          const message = `database "${filename}" does not exist (${this.missingReason(filename)})`;
          return this.fail(new BlockVfsError('not-found', message, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
        }
        const lock = role === 'main' ? this.files.lock(key) : undefined;
        lockHolders += 1;
        this.#open.set(fileId, { kind: 'store', name: filename, key, role, file, lock, holder: lockHolders, viewFromOpen: loads && role === 'main' });
      }
      pOutFlags.setInt32(0, flags, true);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_CANTOPEN);
    }
  }

  /** `open`, a file on the store, is about to close (its lock is already released). */
  protected closing(_open: StoreFile, _fileId: number): void {}

  override async jClose(fileId: number): Promise<number> {
    const open = this.#open.get(fileId);
    this.#open.delete(fileId);
    if (open?.kind !== 'store') return SQLITE_OK;
    try {
      open.lock?.unlock(open.holder, SQLITE_LOCK_NONE);
      this.closing(open, fileId);
      await this.files.close(open.key);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_CLOSE);
    }
  }

  /**
   * From memory when every block is there (settled: no suspend, and straight into
   * SQLite's buffer), else from the store. At the pointer level: FacadeVFS's buffer
   * proxy costs more than a read from memory, and SQLite reads at every transaction.
   */
  override xRead(fileId: number, pData: number, length: number, offsetLow: number, offsetHigh: number): number | PromiseLike<number> {
    const offset = offsetHigh * 2 ** 32 + (offsetLow >>> 0);
    this.trace?.('jRead', fileId, length, offset);
    try {
      const open = this.openFile(fileId);
      const heap = this.module.HEAPU8;
      if (open.kind === 'memory') return settled(readResult(open.file.read(heap.subarray(pData, pData + length), offset), length));
      const count = open.file.readInMemory(heap, offset, pData, length);
      if (count !== undefined) return settled(readResult(count, length));
      return this.#readFromStore(open.file, pData, length, offset);
    } catch (error) {
      return settled(this.fail(error, SQLITE_IOERR_READ));
    }
  }

  async #readFromStore(file: PagedFile, pData: number, length: number, offset: number): Promise<number> {
    try {
      // Read into our own buffer: wasm memory may grow (a new buffer) while we await.
      const buffer = new Uint8Array(length);
      const count = await file.read(buffer, offset);
      this.module.HEAPU8.set(buffer, pData);
      return readResult(count, length);
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_READ);
    }
  }

  /** Whether writes to `open` are ignored for now (the atomic layout, after a failed commit). */
  protected writesIgnored(_open: StoreFile): boolean {
    return false;
  }

  override async jWrite(fileId: number, pData: Uint8Array, offset: number): Promise<number> {
    const open = this.#open.get(fileId);
    try {
      if (!open) throw this.unknownFile(fileId);
      if (open.kind === 'memory') open.file.write(pData.subarray(), offset);
      else if (!this.writesIgnored(open)) await open.file.write(pData.slice(), offset); // a copy: PagedFile may keep it past this call
      return SQLITE_OK;
    } catch (error) {
      if (open?.kind === 'store') this.files.markUncertain(open.key); // a write may flush early
      return this.fail(error, SQLITE_IOERR_WRITE);
    }
  }

  override async jTruncate(fileId: number, size: number): Promise<number> {
    try {
      const open = this.openFile(fileId);
      if (open.kind === 'memory') open.file.truncate(size);
      else await open.file.truncate(size);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_TRUNCATE);
    }
  }

  abstract override jSync(fileId: number, flags: number): number | PromiseLike<number>;

  abstract override jLock(fileId: number, lockType: number): number | PromiseLike<number>;

  /** Synchronous, from the size tracked in memory (including unsynced writes), written straight into SQLite's memory. */
  override xFileSize(fileId: number, pSize: number): number {
    this.trace?.('jFileSize', fileId);
    const open = this.#open.get(fileId);
    if (!open) return this.fail(this.unknownFile(fileId), SQLITE_IOERR_READ);
    const size = open.file.size;
    const heap = this.heap();
    heap.setUint32(pSize, size % 2 ** 32, true);
    heap.setUint32(pSize + 4, Math.floor(size / 2 ** 32), true);
    return SQLITE_OK;
  }

  /** A view of all of wasm memory, made again when memory has grown (which replaces its buffer). */
  protected heap(): DataView {
    const { buffer } = this.module.HEAPU8;
    if (this.#heapView?.buffer !== buffer) this.#heapView = new DataView(buffer);
    return this.#heapView;
  }

  /**
   * SQLite's lock on `open` dropped below RESERVED: no write transaction is under way
   * any more (`wrote`: one was until now, committed or rolled back).
   */
  protected writeEnded(_open: StoreFile, _fileId: number, _wrote: boolean): void {}

  override jUnlock(fileId: number, lockType: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store') return SQLITE_OK;
    const wrote = (open.lock?.level(open.holder) ?? SQLITE_LOCK_NONE) >= SQLITE_LOCK_RESERVED;
    open.lock?.unlock(open.holder, lockType);
    if (lockType < SQLITE_LOCK_RESERVED) this.writeEnded(open, fileId, wrote);
    return SQLITE_OK;
  }

  override jCheckReservedLock(fileId: number, pResOut: DataView): number {
    const open = this.#open.get(fileId);
    const reserved = open?.kind === 'store' && open.lock ? open.lock.reserved() : false;
    pResOut.setInt32(0, reserved ? 1 : 0, true);
    return SQLITE_OK;
  }

  /**
   * Why `PRAGMA name = value` is refused here (undefined: it is not), with `value`
   * trimmed and lower-case. `journal_mode=WAL` is refused in every layout.
   */
  protected pragmaRefusal(name: string, value: string | undefined): string | undefined {
    return name === 'journal_mode' && value === 'wal' ? WAL_UNSUPPORTED : undefined;
  }

  /**
   * Refuses pragmas with a clear message (pragmaRefusal): SQLite hands every PRAGMA to
   * the VFS first. A batch-atomic write (advertised by the atomic layout) that SQLite
   * abandons drops the buffered changes; its begin and commit need nothing, as the
   * commit happens at the sync that follows.
   */
  override jFileControl(fileId: number, op: number, pArg: DataView): number {
    if (op === SQLITE_FCNTL_BEGIN_ATOMIC_WRITE || op === SQLITE_FCNTL_COMMIT_ATOMIC_WRITE) return SQLITE_OK;
    if (op === SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE) {
      const open = this.#open.get(fileId);
      if (open?.kind === 'store') open.file.discard();
      return SQLITE_OK;
    }
    if (op !== SQLITE_FCNTL_PRAGMA) return SQLITE_NOTFOUND;
    try {
      // pArg points at char *azArg[3]: [0] our error message (out), [1] the pragma name, [2] its argument or NULL.
      const namePointer = pArg.getUint32(4, true);
      const valuePointer = pArg.getUint32(8, true);
      const name = this.module.UTF8ToString(namePointer).toLowerCase();
      const value = valuePointer ? this.module.UTF8ToString(valuePointer).trim().toLowerCase() : undefined;
      if (name === 'busy_timeout') return this.#busyTimeoutPragma(pArg, value);
      const refusal = this.pragmaRefusal(name, value);
      if (refusal === undefined) return SQLITE_NOTFOUND;
      return this.#refusePragma(pArg, refusal);
    } catch (error) {
      return this.fail(error, SQLITE_ERROR);
    }
  }

  /**
   * `PRAGMA busy_timeout [= ms]` reads or sets the connection's busy timeout (see
   * BlockVfsOptions.busy) and answers it, as SQLite would. SQLite's own busy
   * handler never gets it: its waits are synchronous sleeps, which would stop every timer
   * and every other database of the process, and would wait for nothing (the lock it
   * waits for can only be released by code that cannot run while it sleeps).
   */
  #busyTimeoutPragma(pArg: DataView, value: string | undefined): number {
    const control = this.#busy;
    if (!control) {
      return this.#refusePragma(
        pArg,
        'PRAGMA busy_timeout would make SQLite sleep synchronously, stopping the whole process; wait out SQLITE_BUSY yourself (openDatabase has a busyTimeoutMs option)',
      );
    }
    if (value !== undefined) {
      const ms = Number(value);
      if (!(Number.isSafeInteger(ms) && ms >= 0 && ms <= 2_147_483_647))
        return this.#refusePragma(pArg, `busy_timeout must be a whole number of ms from 0 to 2147483647, got ${value}`);
      control.timeout = ms;
    }
    this.#setPragmaText(pArg.byteOffset - this.module.HEAPU8.byteOffset, String(control.timeout));
    return SQLITE_OK;
  }

  /** Fails a PRAGMA with `why` as its error message (SQLite shows azArg[0]). */
  #refusePragma(pArg: DataView, why: string): number {
    const error = new BlockVfsError('invalid', why, { source: SOURCE, store: this.store.name });
    this.#lastError ??= error;
    this.#setPragmaText(pArg.byteOffset - this.module.HEAPU8.byteOffset, error.message);
    return SQLITE_ERROR;
  }

  /** Stores `message` as azArg[0] (a PRAGMA's result, or its error), allocated with sqlite3_malloc since SQLite frees it. */
  #setPragmaText(argPointer: number, message: string): void {
    const bytes = new TextEncoder().encode(message);
    const pointer = this.module._sqlite3_malloc(bytes.length + 1);
    if (!pointer) return;
    const heap = this.module.HEAPU8; // re-read: malloc may have grown memory
    heap.set(bytes, pointer);
    heap[pointer + bytes.length] = 0;
    new DataView(heap.buffer, heap.byteOffset + argPointer).setUint32(0, pointer, true);
  }

  override jSectorSize(_fileId: number): number {
    return 512;
  }

  override jDeviceCharacteristics(fileId: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store') return 0;
    return open.role === 'main' ? this.#setup.mainDeviceCharacteristics : SQLITE_IOCAP_POWERSAFE_OVERWRITE;
  }

  /** The open file `fileId`, if any. */
  protected findFile(fileId: number): OpenFile | undefined {
    return this.#open.get(fileId);
  }

  /** The open file `fileId`; throws when there is none. */
  protected openFile(fileId: number): OpenFile {
    const open = this.#open.get(fileId);
    if (!open) throw this.unknownFile(fileId);
    return open;
  }

  protected unknownFile(fileId: number): BlockVfsError {
    return new BlockVfsError('invalid', `no open file with id ${fileId}`, { source: SOURCE, store: this.store.name });
  }
}

/** xRead's result: a read that ended at the end of the file is a short read (the rest zeroed). */
function readResult(count: number, wanted: number): number {
  return count < wanted ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}
