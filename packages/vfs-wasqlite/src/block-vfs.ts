import { BlockVfsError, DEFAULT_BLOCK_SIZE, DEFAULT_LAYOUT, isBlockVfsError, type AtomicOptions, type BlockStore, type Layout } from '@blockvfs/core';
import { blockSizeProblem, storeProblem } from '@blockvfs/core/store';
import { checkLayout, type PagedFile } from '@blockvfs/core/format';
import { databaseNameProblem } from './database-name.js';
import { layoutPolicy, type LayoutPolicy } from './layout-policy.js';
import { MemoryFile } from './memory-file.js';
import type { FileLock } from './lock-table.js';
import {
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_ERROR,
  SQLITE_FCNTL_PRAGMA,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR,
  SQLITE_IOERR_ACCESS,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_DELETE,
  SQLITE_FCNTL_BEGIN_ATOMIC_WRITE,
  SQLITE_FCNTL_COMMIT_ATOMIC_WRITE,
  SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_LOCK,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_WRITE,
  SQLITE_LOCK_NONE,
  SQLITE_LOCK_RESERVED,
  SQLITE_LOCK_SHARED,
  SQLITE_NOTFOUND,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_MAIN_JOURNAL,
  SQLITE_OPEN_SUPER_JOURNAL,
  SQLITE_OPEN_WAL,
} from './sqlite-codes.js';
import { settled } from './settled.js';
import { suspensionsOf } from './suspensions.js';
import { fileKey, StoreFiles, storeFiles } from './store-files.js';
import { FacadeVFS, type WasmModule } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

/** The last lock holder number given out (see OpenFile's `holder`). */
let lockHolders = 0;

/** Why WAL is refused, in one place for the VFS and the Database API. */
export const WAL_UNSUPPORTED =
  'journal_mode=WAL is not available on an object store: WAL needs memory shared by every connection and process ' +
  'using the database (the -shm file), which object stores cannot provide. Use a rollback journal mode instead: ' +
  'DELETE (the default), TRUNCATE, PERSIST, MEMORY or OFF.';

/** Why synchronous=OFF is refused in the atomic layout. */
export const SYNCHRONOUS_OFF_UNSUPPORTED =
  'synchronous=OFF is not available in the atomic layout: a commit reaches the store when SQLite syncs the database, ' +
  'and with synchronous=OFF it never does, so committed transactions would stay in memory until close. ' +
  'A commit costs the same requests either way; use synchronous=NORMAL or FULL.';

export interface BlockVfsOptions {
  /** Where the database files live. */
  store: BlockStore;
  /** On-store layout (default `atomic`). */
  layout?: Layout;
  /** Block size for new files (default 4096); an existing file keeps its own. */
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

/** A file SQLite opened: on the store (main database, rollback journal) or in memory (temp files). */
type OpenFile =
  | {
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
  | { kind: 'memory'; name: string | null; file: MemoryFile };

/**
 * A commit of the atomic layout failed (another writer committed first, or the store
 * failed): the transaction is over. Its changes were dropped, and until its writer's
 * lock drops below RESERVED every write is ignored and every sync fails again, so that
 * neither SQLite's rollback nor a retried COMMIT can commit half of it.
 */
interface FailedCommit {
  writer: number;
  code: number;
  error: unknown;
}

/**
 * A wa-sqlite VFS over one BlockStore. The name SQLite opens is the file's name on
 * the store: in the atomic layout database `app.db` is the objects under `app.db/`
 * (blocks, commit records, checkpoints, head), with the rollback journal in memory; in
 * the direct layout it is `app.db/0000000000`, … and its journal `app.db-journal/…`.
 * Temp files stay in memory.
 *
 * Methods that may wait for the store are registered as async (ASYNC_METHODS: wa-sqlite
 * suspends SQLite around them); unlock, sector size, device characteristics,
 * reserved-lock check, file size and file control stay synchronous. Read and, in the
 * atomic layout, lock answer from memory when they can, with a `settled()` result
 * that needs no suspend: a point query on cached pages then makes no async call at
 * all. Lock is synchronous in the direct layout; in the atomic one, taking SHARED may
 * look for other writers' commits and RESERVED may take the writer lease, while access
 * and delete, which only ever concern the journal there, are synchronous. No exception
 * ever leaves a method: it is kept (see `takeLastError`) and SQLite gets an
 * SQLITE_IOERR_* code fitting the operation.
 *
 * Register it with the module it was built for (`sqlite3.vfs_register(vfs)`), then open
 * databases with that VFS name. Every call into one module must be serialised.
 */
export class BlockVFS extends FacadeVFS {
  readonly store: BlockStore;
  readonly layout: Layout;
  readonly blockSize: number;
  readonly #atomic: AtomicOptions | undefined;
  readonly #policy: LayoutPolicy;
  readonly #module: WasmModule;
  readonly #files: StoreFiles;
  readonly #open = new Map<number, OpenFile>();
  /** Failed commits of the atomic layout, by file key (see FailedCommit). */
  readonly #failed = new Map<string, FailedCommit>();
  #lastError: unknown;
  #heapView: DataView | undefined;
  /** The x-methods registered as async for this layout (ASYNC_METHODS). */
  get #asyncMethods(): ReadonlySet<string> {
    return ASYNC_METHODS[this.#policy.versioned ? 'versioned' : 'direct'];
  }
  readonly #trace: BlockVfsOptions['trace'];
  readonly #busy: BlockVfsOptions['busy'];

  constructor(name: string, module: WasmModule, options: BlockVfsOptions) {
    super(name, module);
    this.#module = module;
    this.store = options.store;
    this.layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    const problem = storeProblem(this.store) ?? blockSizeProblem(this.blockSize);
    if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store: this.store?.name });
    if (options.atomic !== undefined && this.layout !== 'atomic') {
      throw new BlockVfsError('invalid', `atomic-layout options were given for layout "${this.layout}"`, { source: SOURCE, store: this.store.name });
    }
    this.#atomic = options.atomic;
    this.#policy = layoutPolicy(this.layout);
    // Atomic layout: this VFS serves one connection (its engine's), which gets a view of its own.
    this.#files = this.#policy.versioned ? new StoreFiles(this.store) : storeFiles(this.store);
    // Store names can be longer than FacadeVFS's default of 64 bytes.
    this.mxPathname = 1024;
    this.#trace = options.trace;
    this.#busy = options.busy;
    if (options.trace) (this as unknown as { log: BlockVfsOptions['trace'] }).log = options.trace;
    const self = this as unknown as Record<string, unknown>;
    if (this.#policy.versioned) {
      self.jLock = (fileId: number, lockType: number) => this.#lockVersioned(fileId, lockType);
      self.jDelete = (filename: string, syncDir: number) => this.#deleteInMemory(filename, syncDir);
    }
    // Every async x-method reports the promises it answers with: each one suspends SQLite (see Suspensions).
    const suspensions = suspensionsOf(module);
    for (const name of this.#asyncMethods) {
      const method = self[name] as (...args: unknown[]) => number | PromiseLike<number>;
      self[name] = (...args: unknown[]): PromiseLike<number> => {
        let result: number | PromiseLike<number>;
        try {
          result = method.apply(this, args);
        } catch (error) {
          return settled(this.#fail(error, SQLITE_IOERR)); // nothing may escape into SQLite
        }
        if (result instanceof Promise) suspensions.note(result);
        return typeof result === 'number' ? settled(result) : result;
      };
    }
  }

  /** Read once, at registration: which x-methods wa-sqlite enters as async (see ASYNC_METHODS). */
  override hasAsyncMethod(methodName: string): boolean {
    return this.#asyncMethods.has(methodName);
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

  /** The open main database file `name` of this VFS, if any (to checkpoint it or read its commit). */
  mainFile(name: string): PagedFile | undefined {
    return this.#files.file(fileKey(name, this.#atomic));
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
        const nameIssue = role === 'main' ? databaseNameProblem(filename) : undefined;
        if (nameIssue) return this.#fail(new BlockVfsError('invalid', `cannot open database: ${nameIssue}`, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
        const atomic = role === 'main' ? this.#atomic : undefined;
        const key = fileKey(filename, atomic);
        const loads = !this.#files.isOpen(key);
        // Another process may have crashed mid-commit since this one last used the database, leaving
        // a hot journal on the store: what this process knew about the journal is re-learned at open.
        if (role === 'main' && loads && this.#policy.journal === 'store') this.#files.markUncertain(`${filename}-journal`);
        const file = await this.#files.open(key, filename, { layout: this.layout, blockSize: this.blockSize, keep: role === 'journal', database: role === 'main', atomic });
        if (role === 'main' && file.size === 0 && !(flags & SQLITE_OPEN_CREATE)) {
          await this.#files.close(key);
          const message = `database "${filename}" does not exist (${this.layout === 'atomic' ? 'no commit' : `no block ${filename}/0000000000`})`;
          return this.#fail(new BlockVfsError('not-found', message, { source: SOURCE, store: this.store.name }), SQLITE_CANTOPEN);
        }
        const lock = role === 'main' ? this.#files.lock(key) : undefined;
        lockHolders += 1;
        this.#open.set(fileId, { kind: 'store', name: filename, key, role, file, lock, holder: lockHolders, viewFromOpen: loads && role === 'main' });
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
      open.lock?.unlock(open.holder, SQLITE_LOCK_NONE);
      this.#endFailedCommit(open, fileId);
      await this.#files.close(open.key);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_CLOSE);
    }
  }

  /**
   * From memory when every block is there (settled: no suspend, and straight into
   * SQLite's buffer), else from the store. At the pointer level: FacadeVFS's buffer
   * proxy costs more than a read from memory, and SQLite reads at every transaction.
   */
  override xRead(fileId: number, pData: number, length: number, offsetLow: number, offsetHigh: number): number | PromiseLike<number> {
    const offset = offsetHigh * 2 ** 32 + (offsetLow >>> 0);
    this.#trace?.('jRead', fileId, length, offset);
    try {
      const open = this.#file(fileId);
      const target = this.#module.HEAPU8.subarray(pData, pData + length);
      if (open.kind === 'memory') return settled(readResult(open.file.read(target, offset), length));
      const count = open.file.readInMemory(target, offset);
      if (count !== undefined) return settled(readResult(count, length));
      return this.#readFromStore(open.file, pData, length, offset);
    } catch (error) {
      return settled(this.#fail(error, SQLITE_IOERR_READ));
    }
  }

  async #readFromStore(file: PagedFile, pData: number, length: number, offset: number): Promise<number> {
    try {
      // Read into our own buffer: wasm memory may grow (a new buffer) while we await.
      const buffer = new Uint8Array(length);
      const count = await file.read(buffer, offset);
      this.#module.HEAPU8.set(buffer, pData);
      return readResult(count, length);
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_READ);
    }
  }

  override async jWrite(fileId: number, pData: Uint8Array, offset: number): Promise<number> {
    const open = this.#open.get(fileId);
    try {
      if (!open) throw this.#unknownFile(fileId);
      if (open.kind === 'memory') open.file.write(pData.subarray(), offset);
      else if (!this.#failed.has(open.key)) await open.file.write(pData.slice(), offset); // a copy: PagedFile may keep it past this call
      return SQLITE_OK;
    } catch (error) {
      if (open?.kind === 'store') this.#files.markUncertain(open.key); // a write may flush early
      return this.#fail(error, SQLITE_IOERR_WRITE);
    }
  }

  override async jTruncate(fileId: number, size: number): Promise<number> {
    try {
      const open = this.#file(fileId);
      if (open.kind === 'memory') open.file.truncate(size);
      else if (this.#failed.has(open.key)) return SQLITE_OK; // the transaction is over (see FailedCommit)
      else if (this.#policy.versioned && !open.file.dirty && (await isTailCleanup(open.file, size))) await this.#commitTailCleanup(open.file, size);
      else await open.file.truncate(size);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(error, SQLITE_IOERR_TRUNCATE);
    }
  }

  /**
   * Atomic layout: SQLite truncates a shrunk database (after VACUUM, an incremental
   * vacuum) after the commit's sync, when its transaction is already durable. Left
   * pending, that truncation would keep the file dirty, and a dirty file never refreshes
   * (its reads would no longer see other processes' commits). It cuts only pages past the
   * database's own page count, so it is committed on its own now (one PUT); if that fails,
   * it is dropped: the file keeps a tail SQLite ignores, and the next shrink cuts it.
   */
  async #commitTailCleanup(file: PagedFile, size: number): Promise<void> {
    try {
      await file.truncate(size);
      await file.sync();
    } catch {
      file.discard();
    }
  }

  override async jSync(fileId: number, _flags: number): Promise<number> {
    const open = this.#open.get(fileId);
    try {
      if (!open) throw this.#unknownFile(fileId);
      if (open.kind !== 'store') return SQLITE_OK;
      if (!this.#policy.versioned) {
        await this.#files.sync(open.key, open.file);
        return SQLITE_OK;
      }
      const failed = this.#failed.get(open.key);
      if (failed) return this.#fail(failed.error, failed.code);
      await open.file.sync();
      return SQLITE_OK;
    } catch (error) {
      if (open?.kind !== 'store' || !this.#policy.versioned) return this.#fail(error, SQLITE_IOERR_FSYNC);
      // The atomic layout: the commit did not happen (or, for an unknown outcome, the next refresh tells).
      open.file.discard();
      const code = isBlockVfsError(error, 'precondition-failed') ? SQLITE_BUSY : SQLITE_IOERR_FSYNC;
      this.#failed.set(open.key, { writer: fileId, code, error });
      return this.#fail(error, code);
    }
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

  /**
   * In the atomic layout SQLite asks only about the journal and the WAL file (twice per
   * read transaction), and neither is ever on the store (the journal lives in memory and
   * cannot be hot: a crash loses no committed state): the answer is no, written straight
   * into SQLite's memory, without FacadeVFS's proxies or a request. The direct layout
   * asks the store (jAccess).
   */
  override xAccess(pVfs: number, zName: number, flags: number, pResOut: number): number | PromiseLike<number> {
    if (!this.#policy.versioned) return super.xAccess(pVfs, zName, flags, pResOut);
    this.#trace?.('jAccess', this.#module.UTF8ToString(zName), flags);
    this.#heap().setInt32(pResOut, 0, true);
    return SQLITE_OK;
  }

  /** Synchronous, from the size tracked in memory (including unsynced writes), written straight into SQLite's memory. */
  override xFileSize(fileId: number, pSize: number): number {
    this.#trace?.('jFileSize', fileId);
    const open = this.#open.get(fileId);
    if (!open) return this.#fail(this.#unknownFile(fileId), SQLITE_IOERR_READ);
    const size = open.file.size;
    const heap = this.#heap();
    heap.setUint32(pSize, size % 2 ** 32, true);
    heap.setUint32(pSize + 4, Math.floor(size / 2 ** 32), true);
    return SQLITE_OK;
  }

  /** A view of all of wasm memory, made again when memory has grown (which replaces its buffer). */
  #heap(): DataView {
    const { buffer } = this.#module.HEAPU8;
    if (this.#heapView?.buffer !== buffer) this.#heapView = new DataView(buffer);
    return this.#heapView;
  }

  /** The atomic layout's xDelete: journals live in memory, each dropped at close; nothing to do on the store. */
  #deleteInMemory(_filename: string, _syncDir: number): number {
    return SQLITE_OK;
  }

  override jLock(fileId: number, lockType: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store' || !open.lock) return SQLITE_OK;
    return open.lock.lock(open.holder, lockType) ? SQLITE_OK : SQLITE_BUSY;
  }

  /**
   * The atomic layout's xLock. The first SHARED lock of this process on the file starts
   * a read transaction: the file looks for other writers' commits (one GET, or none
   * within the freshness interval), and the transaction then reads that one commit.
   * (While another connection here holds a lock, a new one joins its snapshot: a
   * refresh would change what that one is reading.) RESERVED means a write is coming:
   * the file takes or renews its writer lease, if it has one; another holder makes it
   * SQLITE_BUSY.
   */
  #lockVersioned(fileId: number, lockType: number): number | PromiseLike<number> {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store' || !open.lock) return settled(SQLITE_OK);
    const before = open.lock.level(open.holder);
    if (!open.lock.lock(open.holder, lockType)) return settled(SQLITE_BUSY);
    // The first read transaction of a handle whose open just loaded the view (openDatabase's
    // pragmas, in the same turn of the queue) would only confirm it again: one GET saved per open.
    const fromOpen = open.viewFromOpen;
    open.viewFromOpen = false;
    const refresh = before === SQLITE_LOCK_NONE && !fromOpen && !open.lock.othersHold(open.holder) && !open.file.dirty && open.file.refreshNeeded;
    const write = before < SQLITE_LOCK_RESERVED && lockType >= SQLITE_LOCK_RESERVED && open.file.beginWriteNeeded;
    // Nothing to ask the store (within freshness, a held lease): answered at once.
    if (!refresh && !write) return settled(SQLITE_OK);
    return this.#lockWithStore(open, before, { refresh, write });
  }

  async #lockWithStore(open: Extract<OpenFile, { kind: 'store' }>, before: number, work: { refresh: boolean; write: boolean }): Promise<number> {
    const lock = open.lock as FileLock;
    try {
      if (work.refresh) await open.file.refresh();
      if (work.write) await open.file.beginWrite();
      return SQLITE_OK;
    } catch (error) {
      lock.unlock(open.holder, before === SQLITE_LOCK_NONE ? SQLITE_LOCK_NONE : Math.min(before, SQLITE_LOCK_SHARED));
      return this.#fail(error, isBlockVfsError(error, 'precondition-failed') ? SQLITE_BUSY : SQLITE_IOERR_LOCK);
    }
  }

  override jUnlock(fileId: number, lockType: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store') return SQLITE_OK;
    const wrote = (open.lock?.level(open.holder) ?? SQLITE_LOCK_NONE) >= SQLITE_LOCK_RESERVED;
    open.lock?.unlock(open.holder, lockType);
    if (lockType < SQLITE_LOCK_RESERVED) {
      this.#endFailedCommit(open, fileId);
      // Atomic layout: a write transaction is over, committed (synced) or rolled back. Whatever is
      // still unsynced (the pages a rollback wrote back) belongs to no commit; kept, it would keep
      // the file dirty, and a dirty file never refreshes.
      if (wrote && this.#policy.versioned && open.file.dirty) open.file.discard();
    }
    return SQLITE_OK;
  }

  /** The writer of a failed commit gave up its write lock: the transaction is over. */
  #endFailedCommit(open: Extract<OpenFile, { kind: 'store' }>, fileId: number): void {
    if (this.#failed.get(open.key)?.writer !== fileId) return;
    this.#failed.delete(open.key);
    open.file.discard(); // whatever SQLite's rollback wrote meanwhile was ignored; make sure
  }

  override jCheckReservedLock(fileId: number, pResOut: DataView): number {
    const open = this.#open.get(fileId);
    const reserved = open?.kind === 'store' && open.lock ? open.lock.reserved() : false;
    pResOut.setInt32(0, reserved ? 1 : 0, true);
    return SQLITE_OK;
  }

  /**
   * Refuses `PRAGMA journal_mode=WAL` (and, in the atomic layout, `synchronous=OFF`)
   * with a clear message: SQLite hands every PRAGMA to the VFS first. In the atomic
   * layout a batch-atomic write that SQLite abandons drops the buffered changes; its
   * begin and commit need nothing, as the commit happens at the sync that follows.
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
      const name = this.#module.UTF8ToString(namePointer).toLowerCase();
      const value = valuePointer ? this.#module.UTF8ToString(valuePointer).trim().toLowerCase() : undefined;
      if (name === 'busy_timeout') return this.#busyTimeoutPragma(pArg, value);
      let refusal: string | undefined;
      if (name === 'journal_mode' && value === 'wal') refusal = WAL_UNSUPPORTED;
      if (name === 'synchronous' && (value === 'off' || value === '0') && this.#policy.versioned) refusal = SYNCHRONOUS_OFF_UNSUPPORTED;
      if (refusal === undefined) return SQLITE_NOTFOUND;
      return this.#refusePragma(pArg, refusal);
    } catch (error) {
      return this.#fail(error, SQLITE_ERROR);
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
      return this.#refusePragma(pArg, 'PRAGMA busy_timeout would make SQLite sleep synchronously, stopping the whole process; wait out SQLITE_BUSY yourself (openDatabase has a busyTimeoutMs option)');
    }
    if (value !== undefined) {
      const ms = Number(value);
      if (!(Number.isSafeInteger(ms) && ms >= 0 && ms <= 2_147_483_647)) return this.#refusePragma(pArg, `busy_timeout must be a whole number of ms from 0 to 2147483647, got ${value}`);
      control.timeout = ms;
    }
    this.#setPragmaText(pArg.byteOffset - this.#module.HEAPU8.byteOffset, String(control.timeout));
    return SQLITE_OK;
  }

  /** Fails a PRAGMA with `why` as its error message (SQLite shows azArg[0]). */
  #refusePragma(pArg: DataView, why: string): number {
    const error = new BlockVfsError('invalid', why, { source: SOURCE, store: this.store.name });
    this.#lastError ??= error;
    this.#setPragmaText(pArg.byteOffset - this.#module.HEAPU8.byteOffset, error.message);
    return SQLITE_ERROR;
  }

  override jSectorSize(_fileId: number): number {
    return 512;
  }

  override jDeviceCharacteristics(fileId: number): number {
    const open = this.#open.get(fileId);
    if (open?.kind !== 'store') return 0;
    return open.role === 'main' ? this.#policy.mainDeviceCharacteristics : SQLITE_IOCAP_POWERSAFE_OVERWRITE;
  }

  /** Stores `message` as azArg[0] (a PRAGMA's result, or its error), allocated with sqlite3_malloc since SQLite frees it. */
  #setPragmaText(argPointer: number, message: string): void {
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

/**
 * The x-methods entered as async, by layout: those that may wait for the store. Every
 * other one is synchronous, as an async call costs a suspend and resume of SQLite.
 */
const ASYNC_METHODS = {
  direct: new Set(['xOpen', 'xClose', 'xRead', 'xWrite', 'xTruncate', 'xSync', 'xDelete', 'xAccess']),
  versioned: new Set(['xOpen', 'xClose', 'xRead', 'xWrite', 'xTruncate', 'xSync', 'xLock']),
} as const;

/** xRead's result: a read that ended at the end of the file is a short read (the rest zeroed). */
function readResult(count: number, wanted: number): number {
  return count < wanted ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

/**
 * Whether truncating `file` to `size` removes only pages past the database's page count
 * (bytes 28–31 of its header, valid while the header's version-valid-for number at 92
 * equals its change counter at 24): a tail SQLite no longer counts.
 */
async function isTailCleanup(file: PagedFile, size: number): Promise<boolean> {
  if (size >= file.size) return false;
  const header = new Uint8Array(100);
  if ((file.readInMemory(header, 0) ?? (await file.read(header, 0))) < 100) return false;
  const view = new DataView(header.buffer);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const valid = view.getUint32(92) === view.getUint32(24);
  return valid && pageSize >= 512 && size >= view.getUint32(28) * pageSize;
}

function isWalName(name: string): boolean {
  return name.endsWith('-wal');
}
