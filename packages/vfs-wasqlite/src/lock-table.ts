import { SQLITE_LOCK_EXCLUSIVE, SQLITE_LOCK_NONE, SQLITE_LOCK_PENDING, SQLITE_LOCK_RESERVED, SQLITE_LOCK_SHARED } from './sqlite-codes.js';

/**
 * SQLite's five lock levels on one database file, between the connections of this
 * process (what a POSIX VFS gets from fcntl locks, here kept in memory). Levels:
 * NONE < SHARED < RESERVED < PENDING < EXCLUSIVE.
 *
 * - SHARED: any number of readers, unless someone holds PENDING or EXCLUSIVE;
 * - RESERVED: one connection that intends to write; readers may still come;
 * - PENDING: that writer waits for readers to leave; no new reader may come;
 * - EXCLUSIVE: the writer alone.
 *
 * Holders are numbers unique in the process (one per open file handle, whichever SQLite
 * module it is in). An incompatible request fails at once (the VFS answers SQLITE_BUSY),
 * as SQLite's own busy handler would sleep synchronously; the Database waits it out
 * with timers instead (busyTimeoutMs).
 */
export class FileLock {
  readonly #shared = new Set<number>();
  #reserved: number | undefined;
  #pending: number | undefined;
  #exclusive: number | undefined;

  /** The level `holder` holds. */
  level(holder: number): number {
    if (this.#exclusive === holder) return SQLITE_LOCK_EXCLUSIVE;
    if (this.#pending === holder) return SQLITE_LOCK_PENDING;
    if (this.#reserved === holder) return SQLITE_LOCK_RESERVED;
    return this.#shared.has(holder) ? SQLITE_LOCK_SHARED : SQLITE_LOCK_NONE;
  }

  /** Raises `holder` to `level`; false when another connection's lock is in the way. */
  lock(holder: number, level: number): boolean {
    const current = this.level(holder);
    if (level <= current) return true;
    if (current === SQLITE_LOCK_NONE) {
      // A new reader may not start while a writer waits for, or holds, the file.
      if (this.#pending !== undefined || this.#exclusive !== undefined) return false;
      this.#shared.add(holder);
      if (level === SQLITE_LOCK_SHARED) return true;
    }
    if (level === SQLITE_LOCK_RESERVED) {
      if (this.#reserved !== undefined && this.#reserved !== holder) return false;
      if (this.#pending !== undefined || this.#exclusive !== undefined) return false;
      this.#reserved = holder;
      return true;
    }
    // PENDING or EXCLUSIVE (SQLite asks for EXCLUSIVE; PENDING is taken on the way, and
    // kept when readers are still present, so that no new reader starts meanwhile).
    if (this.#pending !== undefined && this.#pending !== holder) return false;
    if (this.#exclusive !== undefined) return false;
    if (this.#reserved !== undefined && this.#reserved !== holder) return false;
    this.#pending = holder;
    if (level === SQLITE_LOCK_PENDING) return true;
    for (const reader of this.#shared) if (reader !== holder) return false;
    this.#exclusive = holder;
    return true;
  }

  /** Lowers `holder` to `level` (SHARED or NONE). */
  unlock(holder: number, level: number): void {
    if (level < SQLITE_LOCK_EXCLUSIVE && this.#exclusive === holder) this.#exclusive = undefined;
    if (level < SQLITE_LOCK_PENDING && this.#pending === holder) this.#pending = undefined;
    if (level < SQLITE_LOCK_RESERVED && this.#reserved === holder) this.#reserved = undefined;
    if (level < SQLITE_LOCK_SHARED) this.#shared.delete(holder);
  }

  /** Whether a connection other than `holder` holds any lock. */
  othersHold(holder: number): boolean {
    for (const reader of this.#shared) if (reader !== holder) return true;
    const others = (level: number | undefined): boolean => level !== undefined && level !== holder;
    return others(this.#reserved) || others(this.#pending) || others(this.#exclusive);
  }

  /** Whether any connection holds RESERVED or more (what xCheckReservedLock reports). */
  reserved(): boolean {
    return this.#reserved !== undefined || this.#pending !== undefined || this.#exclusive !== undefined;
  }

  /** Whether nobody holds any lock (the entry may then be dropped). */
  get idle(): boolean {
    return this.#shared.size === 0 && !this.reserved();
  }
}
