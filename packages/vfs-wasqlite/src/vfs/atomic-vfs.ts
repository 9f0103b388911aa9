import { isBlockVfsError } from '@blockvfs/core';
import type { PagedFile } from '@blockvfs/core/format';
import type { FileLock } from '../lock-table.js';
import {
  SQLITE_BUSY,
  SQLITE_IOCAP_BATCH_ATOMIC,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_LOCK,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_LOCK_NONE,
  SQLITE_LOCK_RESERVED,
  SQLITE_LOCK_SHARED,
  SQLITE_OK,
} from '../sqlite-codes.js';
import { settled } from '../settled.js';
import { StoreFiles } from '../store-files.js';
import type { WasmModule } from '../wa-sqlite-adapter.js';
import { BaseVFS, type Speculation, type StoreFile, type VfsLayout } from './base-vfs.js';
import type { BlockVfsOptions } from './options.js';
import { SYNCHRONOUS_OFF_UNSUPPORTED } from './refusals.js';

/**
 * The atomic layout: a commit is one commit record, all or nothing, made when SQLite
 * syncs the database; the journal only serves rollbacks inside this process, so it
 * stays in memory, and BATCH_ATOMIC is advertised: SQLite then writes no journal at
 * all for most transactions. A store journal could never be hot (a crash loses nothing
 * that was committed), so SQLite's hot-journal checks are answered without requests.
 * This VFS serves one connection (its engine's), which gets a view of its own.
 */
const ATOMIC: VfsLayout = {
  layout: 'atomic',
  asyncMethods: new Set(['xOpen', 'xClose', 'xRead', 'xWrite', 'xTruncate', 'xSync', 'xLock']),
  journal: 'memory',
  mainDeviceCharacteristics: SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_BATCH_ATOMIC,
  files: (store) => new StoreFiles(store),
};

/** Looks for new commits in flight that a read transaction did not wait for (see AtomicVFS.speculate), by file, in this process. */
const pendingLooks = new WeakMap<PagedFile, Promise<boolean>>();

/** `then` callbacks that run `next` whether the promise fulfilled or rejected (a failed look is its owner's to report). */
function again<T>(next: () => T): [() => T, () => T] {
  return [next, next];
}

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
 * The VFS of the atomic layout: database `app.db` is the objects under `app.db/`
 * (blocks, commit records, checkpoints, head), with the rollback journal in memory.
 * The store can hold commits of other writers that this process must look for: taking
 * SHARED may look for them (a refresh), and RESERVED may take the writer lease, so lock
 * is async here, answering from memory (a `settled()` result, no suspend) when it has
 * nothing to ask the store. Sync commits; a lost commit is SQLITE_BUSY. Access and
 * delete, which only ever concern the journal here, are synchronous and need no request.
 */
export class AtomicVFS extends BaseVFS {
  /** Failed commits, by file key (see FailedCommit). */
  readonly #failed = new Map<string, FailedCommit>();
  /** The look of each handle's read transaction that did not wait for it (see speculate), until the handle unlocks. */
  readonly #handleLooks = new Map<number, Promise<boolean>>();
  /** Set while the Database runs a call that holds its results back until its looks answer (see speculate). */
  #speculation: Speculation | undefined;

  constructor(name: string, module: WasmModule, options: BlockVfsOptions) {
    super(name, module, options, ATOMIC);
  }

  protected override missingReason(_filename: string): string {
    return 'no commit';
  }

  protected override writesIgnored(open: StoreFile): boolean {
    return this.#failed.has(open.key);
  }

  override async jTruncate(fileId: number, size: number): Promise<number> {
    try {
      const open = this.openFile(fileId);
      if (open.kind === 'memory') open.file.truncate(size);
      else if (this.#failed.has(open.key))
        return SQLITE_OK; // the transaction is over (see FailedCommit)
      else if (!open.file.dirty && (await isTailCleanup(open.file, size))) await commitTailCleanup(open.file, size);
      else await open.file.truncate(size);
      return SQLITE_OK;
    } catch (error) {
      return this.fail(error, SQLITE_IOERR_TRUNCATE);
    }
  }

  /** Commits what SQLite wrote since the last sync; a failure ends the transaction (see FailedCommit). */
  override async jSync(fileId: number, _flags: number): Promise<number> {
    const open = this.findFile(fileId);
    try {
      if (!open) throw this.unknownFile(fileId);
      if (open.kind !== 'store') return SQLITE_OK;
      const failed = this.#failed.get(open.key);
      if (failed) return this.fail(failed.error, failed.code);
      await open.file.sync();
      return SQLITE_OK;
    } catch (error) {
      if (open?.kind !== 'store') return this.fail(error, SQLITE_IOERR_FSYNC);
      // The commit did not happen (or, for an unknown outcome, the next refresh tells).
      open.file.discard();
      const code = isBlockVfsError(error, 'precondition-failed') ? SQLITE_BUSY : SQLITE_IOERR_FSYNC;
      this.#failed.set(open.key, { writer: fileId, code, error });
      return this.fail(error, code);
    }
  }

  /**
   * Lets the read transactions of the call about to run start before their look for
   * other writers' commits has answered (see jLock), for a caller that holds the call's
   * results back until `endSpeculation()`'s looks have answered, and runs the call again
   * if one of them moved the view (a new commit: what was read may be older than it).
   * So a cold read's first block GET and the look travel together: one round trip, not
   * two. Meant for one autocommit statement (run, get, all), whose rows nobody has seen
   * before the call returns.
   */
  override speculate(): void {
    this.#speculation = { looks: [], wrote: false };
  }

  /** The looks started since `speculate()`, and whether a write began (its look was then waited for: see jLock). */
  override endSpeculation(): Speculation | undefined {
    const speculation = this.#speculation;
    this.#speculation = undefined;
    return speculation;
  }

  /**
   * The first SHARED lock of this process on the file starts a read transaction: the
   * file looks for other writers' commits (one GET, or none within the freshness
   * interval), and the transaction then reads that one commit. (While another
   * connection here holds a lock, a new one joins its snapshot: a refresh would change
   * what that one is reading.) RESERVED means a write is coming: the file takes or
   * renews its writer lease, if it has one; another holder makes it SQLITE_BUSY.
   *
   * During a speculating call (see speculate) the look is started and not waited for:
   * the transaction reads on from the view it has, while the look travels. Until it
   * answers, every other read transaction on the file waits for it before it starts (the
   * look may move the view), and a write of the speculating transaction waits for it
   * too: a view it moved makes the write SQLITE_BUSY, to run again on the new view.
   */
  override jLock(fileId: number, lockType: number): number | PromiseLike<number> {
    const open = this.findFile(fileId);
    if (open?.kind !== 'store' || !open.lock) return settled(SQLITE_OK);
    const before = open.lock.level(open.holder);
    const inFlight = before === SQLITE_LOCK_NONE ? pendingLooks.get(open.file) : undefined;
    if (inFlight) return inFlight.then(...again(() => this.jLock(fileId, lockType)));
    if (!open.lock.lock(open.holder, lockType)) return settled(SQLITE_BUSY);
    // The first read transaction of a handle whose open just loaded the view (openDatabase's
    // pragmas, in the same turn of the queue) would only confirm it again: one GET saved per open.
    const fromOpen = open.viewFromOpen;
    open.viewFromOpen = false;
    const refresh = before === SQLITE_LOCK_NONE && !fromOpen && !open.lock.othersHold(open.holder) && !open.file.dirty && open.file.refreshNeeded;
    const write = before < SQLITE_LOCK_RESERVED && lockType >= SQLITE_LOCK_RESERVED;
    if (write && this.#speculation) this.#speculation.wrote = true;
    const look = write ? this.#handleLooks.get(fileId) : undefined;
    if (look) return this.#lockWithStore(open, before, { look, write: open.file.beginWriteNeeded });
    if (refresh && lockType === SQLITE_LOCK_SHARED && this.#speculation) {
      this.#startLook(open.file, fileId, this.#speculation);
      return settled(SQLITE_OK);
    }
    // Nothing to ask the store (within freshness, a held lease): answered at once.
    if (!refresh && !(write && open.file.beginWriteNeeded)) return settled(SQLITE_OK);
    return this.#lockWithStore(open, before, { refresh, write: write && open.file.beginWriteNeeded });
  }

  /** Starts the file's look for new commits without waiting for it (see speculate). */
  #startLook(file: PagedFile, fileId: number, speculation: Speculation): void {
    const look = file.refresh();
    pendingLooks.set(file, look);
    this.#handleLooks.set(fileId, look);
    speculation.looks.push(look);
    const settle = (): void => {
      if (pendingLooks.get(file) === look) pendingLooks.delete(file);
    };
    look.then(settle, settle); // its failure is the caller's to see (endSpeculation), or a write's (jLock)
  }

  override jUnlock(fileId: number, lockType: number): number {
    if (lockType === SQLITE_LOCK_NONE) this.#handleLooks.delete(fileId);
    return super.jUnlock(fileId, lockType);
  }

  async #lockWithStore(open: StoreFile, before: number, work: { refresh?: boolean; look?: Promise<boolean>; write: boolean }): Promise<number> {
    const lock = open.lock as FileLock;
    try {
      if (work.refresh) await open.file.refresh();
      if (work.look && (await work.look)) {
        // The look this transaction read on without moved the view: what it read may be older than the commit it found.
        lock.unlock(open.holder, before === SQLITE_LOCK_NONE ? SQLITE_LOCK_NONE : Math.min(before, SQLITE_LOCK_SHARED));
        return SQLITE_BUSY;
      }
      if (work.write) await open.file.beginWrite();
      return SQLITE_OK;
    } catch (error) {
      lock.unlock(open.holder, before === SQLITE_LOCK_NONE ? SQLITE_LOCK_NONE : Math.min(before, SQLITE_LOCK_SHARED));
      return this.fail(error, isBlockVfsError(error, 'precondition-failed') ? SQLITE_BUSY : SQLITE_IOERR_LOCK);
    }
  }

  protected override writeEnded(open: StoreFile, fileId: number, wrote: boolean): void {
    this.#endFailedCommit(open, fileId);
    // The write transaction is over, committed (synced) or rolled back. Whatever is still
    // unsynced (the pages a rollback wrote back) belongs to no commit; kept, it would keep
    // the file dirty, and a dirty file never refreshes.
    if (wrote && open.file.dirty) open.file.discard();
  }

  protected override closing(open: StoreFile, fileId: number): void {
    this.#endFailedCommit(open, fileId);
  }

  /** The writer of a failed commit gave up its write lock: the transaction is over. */
  #endFailedCommit(open: StoreFile, fileId: number): void {
    if (this.#failed.get(open.key)?.writer !== fileId) return;
    this.#failed.delete(open.key);
    open.file.discard(); // whatever SQLite's rollback wrote meanwhile was ignored; make sure
  }

  /** Journals live in memory, each dropped at close: nothing to delete on the store. */
  override jDelete(_filename: string, _syncDir: number): number {
    return SQLITE_OK;
  }

  /**
   * SQLite asks only about the journal and the WAL file (twice per read transaction),
   * and neither is ever on the store (the journal lives in memory and cannot be hot: a
   * crash loses no committed state): the answer is no, written straight into SQLite's
   * memory, without FacadeVFS's proxies or a request.
   */
  override xAccess(_pVfs: number, zName: number, flags: number, pResOut: number): number {
    this.trace?.('jAccess', this.module.UTF8ToString(zName), flags);
    this.heap().setInt32(pResOut, 0, true);
    return SQLITE_OK;
  }

  /** synchronous=OFF is refused as well as WAL: with it, SQLite would never commit. */
  protected override pragmaRefusal(name: string, value: string | undefined): string | undefined {
    if (name === 'synchronous' && (value === 'off' || value === '0')) return SYNCHRONOUS_OFF_UNSUPPORTED;
    return super.pragmaRefusal(name, value);
  }
}

/**
 * SQLite truncates a shrunk database (after VACUUM, an incremental vacuum) after the
 * commit's sync, when its transaction is already durable. Left pending, that
 * truncation would keep the file dirty, and a dirty file never refreshes (its reads
 * would no longer see other processes' commits). It cuts only pages past the
 * database's own page count, so it is committed on its own now (one PUT); if that
 * fails, it is dropped: the file keeps a tail SQLite ignores, and the next shrink cuts it.
 */
async function commitTailCleanup(file: PagedFile, size: number): Promise<void> {
  try {
    await file.truncate(size);
    await file.sync();
  } catch {
    file.discard();
  }
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
