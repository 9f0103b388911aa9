import { AsyncLocalStorage } from 'node:async_hooks';
import { AtomicFormat, checkLayout } from '@blockvfs/core/format';
import { BlockVfsError, DEFAULT_LAYOUT, isBlockVfsError, isWrongLayoutError, type AtomicOptions, type BlockStore, type Clock, type Layout, type LeaseOptions } from '@blockvfs/core';
import { blockSizeProblem, storeProblem } from '@blockvfs/core/store';
import { SYNCHRONOUS_OFF_UNSUPPORTED, WAL_UNSUPPORTED } from './vfs/refusals.js';
import { databaseNameProblem } from './database-name.js';
import { acquireEngine, acquireVfs, releaseEngine, type Engine, type VfsLease } from './runtime.js';
import { BusyRetry, DEFAULT_BUSY_TIMEOUT_MS, busyTimeoutProblem } from './busy-retry.js';
import { SQLITE_BUSY, SQLITE_IOERR_CLOSE, SQLITE_ROW, codeName, primaryCode } from './sqlite-codes.js';
import { SqliteError, isBusyError } from './sqlite-error.js';
import { andFinally, andThen, type MaybePromise } from './maybe-async.js';
import { ColumnNames, bindParams, integer, readRow, type Params, type Row } from './values.js';
import { BUILDS, waSqliteErrorCode, type Build, type WaSqlite } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';
const OPEN_READONLY = 0x1;
const OPEN_READWRITE = 0x2;
const OPEN_CREATE = 0x4;

/** Defaults, and why. */
export const DEFAULT_PAGE_SIZE = 4096;
/**
 * Page cache per connection, in KiB (SQLite's own default is 2 MiB). Every page
 * missing from the cache costs a store request, so a larger cache pays off more than
 * on a local disk; 16 MiB stays modest in wasm memory (which tops out at 2 GiB).
 * Change it with `PRAGMA cache_size`.
 */
export const DEFAULT_CACHE_KIB = 16 * 1024;
/**
 * Prepared statements of run/get/all kept per connection for reuse, by SQL text.
 * Preparing costs more than running a point query, so a loop of the same statement
 * pays it once.
 */
export const STATEMENT_CACHE_SIZE = 64;

export interface OpenDatabaseOptions {
  /** Where the database lives. */
  store: BlockStore;
  /** The database's name on the store: the prefix of its objects (`<name>/…`). */
  name: string;
  /**
   * On-store layout: `atomic` (the default: all-or-nothing commits, snapshots, safe
   * concurrent writers) or `direct` (sqlite-s3vfs's, for interoperability: one object
   * per block rewritten in place, one writer at a time), for a new database. An
   * existing database opens in the layout it was written in, whatever this says
   * (`db.layout` tells which).
   */
  layout?: Layout;
  /** Block size for a new database file (default: the page size). An existing database keeps the block size it was written with. */
  blockSize?: number;
  /** SQLite page size for a new database (default 4096; a power of two from 512 to 65536). Ignored for an existing database. */
  pageSize?: number;
  /** Open read-only: writes fail with SQLITE_READONLY, and a missing database is a 'not-found' error. */
  readOnly?: boolean;
  /** Which wa-sqlite build runs SQLite (default `asyncify`; `jspi` needs WebAssembly.Suspending). */
  build?: Build;
  /**
   * Atomic layout: hold a writer lease (`<name>/lease`) from the first write until
   * close, renewed while writing (`ttlMs`, default 30 s). Other writers that use leases
   * then get SQLITE_BUSY at once instead of at commit, and this one skips looking for
   * their commits: a single-row commit is then one PUT.
   */
  lease?: boolean | LeaseOptions;
  /**
   * Atomic layout: how old, in ms, a read transaction's view of the database may be.
   * 0 (the default) looks for other writers' commits at the start of every read
   * transaction (one GET); N looks at most every N ms (none in between).
   */
  freshnessMs?: number;
  /** Atomic layout, with `readOnly`: open the database as it was after this commit number, or at this time. */
  asOf?: number | Date;
  /** Atomic layout: bytes of block objects this process keeps in memory for every connection (default 32 MiB). */
  cacheBytes?: number;
  /**
   * Atomic layout: accept a store without conditional puts, which cannot keep two
   * writers apart; you promise that only one writer ever exists.
   */
  singleWriter?: boolean;
  /**
   * Where time comes from (default the system clock): commit times, the writer lease,
   * `freshnessMs`. Deterministic tests pass a simulated clock; applications leave it out.
   */
  clock?: Clock;
  /**
   * How long, in ms, a transaction or an autocommit statement that gets SQLITE_BUSY (a
   * commit lost to another writer, another writer's lease, a lock another connection
   * holds) is re-run before the SQLITE_BUSY is thrown: after a jittered wait that grows
   * each time. Default 5000 (better-sqlite3's `timeout`); 0 throws at once. A
   * `transaction(fn)` is re-run from its start, so `fn` may run more than once: keep
   * effects outside the database (sending mail, say) out of it. `PRAGMA busy_timeout`
   * reads and sets this same value (it never blocks the process).
   */
  busyTimeoutMs?: number;
}

/** A commit of the atomic layout: its number (1, 2, …) and its writer's clock. */
export interface CommitVersion {
  commit: number;
  time: Date;
}

export interface RunResult {
  /** Rows changed by the statement (INSERT, UPDATE, DELETE). */
  changes: number;
  /** Rowid of the connection's last successful INSERT: a number, or a bigint beyond the safe integer range. */
  lastInsertRowid: number | bigint;
}

/** Opens (or creates) a database on a store. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { store, name, atomic } = checkOptions(options);
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const blockSize = options.blockSize ?? pageSize;
  const readOnly = options.readOnly ?? false;
  const engine = await acquireEngine(options.build ?? 'asyncify');
  const { sqlite } = engine;
  const busy = new BusyRetry(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, options.clock);

  // page_size only takes effect before the database's first write; for an existing database it does nothing.
  const pragmas = [`PRAGMA cache_size = -${DEFAULT_CACHE_KIB}`, 'PRAGMA temp_store = MEMORY'];
  if (!readOnly) pragmas.unshift(`PRAGMA page_size = ${pageSize}`);
  // The open and its pragmas in one turn of the queue: the pragmas' read transaction
  // (cache_size loads the schema) then uses the view the open just loaded (see BaseVFS.jOpen).
  const openIn = async (layoutNow: Layout, atomicNow: AtomicOptions | undefined): Promise<Database> => {
    const lease = acquireVfs(sqlite, store, { layout: layoutNow, blockSize, atomic: atomicNow, busy });
    const flags = readOnly ? OPEN_READONLY : OPEN_READWRITE | OPEN_CREATE;
    lease.vfs.takeLastError();
    let db: number | undefined;
    try {
      db = await sqlite.api.open_v2(name, flags, lease.vfs.name);
      sqlite.enableExtendedResultCodes(db);
      for await (const stmt of sqlite.api.statements(db, pragmas.join('; '), { unscoped: false })) await stepToEnd(sqlite, stmt);
      return new Database(engine, lease, db, name, busy);
    } catch (error) {
      const failure = toError(error, lease);
      if (db !== undefined) await sqlite.api.close(db).catch(() => undefined);
      lease.release();
      throw failure;
    }
  };
  return engine.queue.run(async () => {
    try {
      try {
        return await openIn(layout, atomic);
      } catch (error) {
        // `layout` chooses for a new database; an existing one opens in the layout it was written in.
        const other = error instanceof Error ? error.cause : undefined;
        if (!isWrongLayoutError(other)) throw error;
        if (other.layout === 'direct' && atomic !== undefined && Object.keys(atomic).some((key) => key !== 'clock')) {
          const given = Object.keys(atomic).filter((key) => key !== 'clock').map((key) => `"${key}"`).join(', ');
          throw new BlockVfsError('invalid', `database "${name}" was written in the direct layout, and ${given} need the atomic layout`, { source: SOURCE, store: store.name, cause: other });
        }
        return await openIn(other.layout, other.layout === 'atomic' ? atomicFromClock(options.clock) : undefined);
      }
    } catch (error) {
      releaseEngine(engine);
      throw error;
    }
  });
}

/** The atomic options of a database found in the atomic layout when `direct` was asked for (none of them could be given). */
function atomicFromClock(clock: Clock | undefined): AtomicOptions | undefined {
  return clock === undefined ? undefined : { clock };
}

function checkOptions(options: OpenDatabaseOptions): { store: BlockStore; name: string; atomic: AtomicOptions | undefined } {
  const invalid = (message: string) => new BlockVfsError('invalid', message, { source: SOURCE });
  if (!options || typeof options !== 'object') throw invalid('openDatabase needs an options object');
  const { store, name, pageSize, blockSize, build } = options;
  const storeIssue = storeProblem(store);
  if (storeIssue) throw invalid(`"store": ${storeIssue}`);
  const nameIssue = databaseNameProblem(name);
  if (nameIssue) throw invalid(nameIssue);
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0)) {
    throw invalid(`"pageSize" must be a power of two from 512 to 65536, got ${pageSize}`);
  }
  if (blockSize !== undefined && blockSizeProblem(blockSize)) throw invalid(`"blockSize": ${blockSizeProblem(blockSize)}`);
  if (build !== undefined && !BUILDS.includes(build)) throw invalid(`"build" must be one of ${BUILDS.join(', ')}, got ${String(build)}`);
  const busyIssue = options.busyTimeoutMs === undefined ? undefined : busyTimeoutProblem(options.busyTimeoutMs);
  if (busyIssue) throw invalid(busyIssue);
  return { store, name, atomic: atomicOptions(options, invalid) };
}

/** The atomic layout's options among `options` (undefined when none is given), checked against the layout. */
function atomicOptions(options: OpenDatabaseOptions, invalid: (message: string) => BlockVfsError): AtomicOptions | undefined {
  const { lease, freshnessMs, asOf, cacheBytes, singleWriter, clock } = options;
  const given = Object.entries({ lease, freshnessMs, asOf, cacheBytes, singleWriter }).filter(([, value]) => value !== undefined);
  if (given.length === 0) return clock === undefined || (options.layout ?? DEFAULT_LAYOUT) !== 'atomic' ? undefined : { clock };
  if ((options.layout ?? DEFAULT_LAYOUT) !== 'atomic') {
    throw invalid(`${given.map(([key]) => `"${key}"`).join(', ')} need${given.length === 1 ? 's' : ''} the atomic layout, not "${String(options.layout)}"`);
  }
  if (asOf !== undefined && !(asOf instanceof Date ? Number.isFinite(asOf.getTime()) : Number.isSafeInteger(asOf) && asOf >= 1)) {
    throw invalid(`"asOf" must be a commit number (1 or more) or a valid Date, got ${asOf instanceof Date ? 'an invalid Date' : String(asOf)}`);
  }
  if (asOf !== undefined && !options.readOnly) throw invalid('"asOf" opens an older state of the database, which is read-only: pass readOnly: true too');
  if (lease !== undefined && lease !== false && options.readOnly) throw invalid('"lease" is for writers; a readOnly connection never writes');
  if (freshnessMs !== undefined && !(Number.isSafeInteger(freshnessMs) && freshnessMs >= 0)) throw invalid(`"freshnessMs" must be a non-negative integer of ms, got ${freshnessMs}`);
  return { ...(Object.fromEntries(given) as AtomicOptions), ...(clock === undefined ? {} : { clock }) };
}

/**
 * Turns what the wa-sqlite API threw into the error the caller sees: an SqliteError
 * whose message and cause carry the store failure that caused it, or the VFS's own
 * BlockVfsError when it explains the failure fully (WAL refused, database missing).
 */
function toError(error: unknown, lease: VfsLease): Error {
  const cause = lease.vfs.takeLastError();
  const code = waSqliteErrorCode(error);
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  if (isBlockVfsError(cause, 'not-found')) return cause;
  if (isBlockVfsError(cause, 'invalid') && (cause.message.includes(WAL_UNSUPPORTED) || cause.message.includes(SYNCHRONOUS_OFF_UNSUPPORTED))) return cause;
  let message = `${(error as Error).message} (${codeName(code)})`;
  if (cause !== undefined) message += `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new SqliteError(message, code, cause === undefined ? undefined : { cause });
}

/** Marks the async work of one top-level `transaction()` call, to tell its statements from others. */
interface TransactionScope {
  readonly database: Database;
}

/**
 * A connection to one database. Every method is async and runs in turn with all
 * other calls into SQLite in this process. The statements of `run`, `get` and `all`
 * are kept prepared for reuse (up to STATEMENT_CACHE_SIZE, by SQL text); `iterate`
 * prepares its own and finalises it when the loop ends. close() finalises them all.
 *
 * While `transaction(fn)` runs, calls made from within `fn` (directly or through
 * functions it awaits) are part of the transaction; calls on the same Database
 * from elsewhere wait until it has committed or rolled back.
 */
export class Database {
  readonly name: string;
  readonly #engine: Engine;
  readonly #sqlite: WaSqlite;
  readonly #lease: VfsLease;
  readonly #busy: BusyRetry;
  /** Errors of autocommit calls that SQLite reported busy and left nothing half-done: re-run them (see BusyRetry). */
  readonly #retryable = new WeakSet<object>();
  readonly #db: number;
  /** Prepared statements not yet finalised: finalised before close. */
  readonly #live = new Set<number>();
  /** Reset statements ready for reuse, by SQL text, least recently used first (a subset of #live). */
  readonly #idle = new Map<string, number>();
  readonly #names: ColumnNames;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  #transaction: { scope: TransactionScope; done: Promise<void> } | undefined;
  #savepoints = 0;
  #closed = false;

  /** @internal Use openDatabase(). */
  constructor(engine: Engine, lease: VfsLease, db: number, name: string, busy: BusyRetry) {
    this.#engine = engine;
    this.#sqlite = engine.sqlite;
    this.#lease = lease;
    this.#db = db;
    this.name = name;
    this.#busy = busy;
    this.#names = new ColumnNames(engine.sqlite.module);
  }

  /** How long (ms) SQLITE_BUSY is waited out before it is thrown (the `busyTimeoutMs` option, `PRAGMA busy_timeout`). */
  get busyTimeoutMs(): number {
    return this.#busy.timeout;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The on-store layout of this database: the one it was written in (for a new database, the `layout` option). */
  get layout(): Layout {
    return this.#lease.vfs.layout;
  }

  /**
   * Atomic layout: the commit this process's view of the database is at (the one a
   * read transaction starting now would see, until it refreshes). Undefined in the
   * direct layout, and for a database with no commit yet.
   */
  async version(): Promise<CommitVersion | undefined> {
    return this.#call(async () => {
      const format = this.#lease.vfs.mainFile(this.name)?.format;
      if (!(format instanceof AtomicFormat) || format.seq === 0) return undefined;
      return { commit: format.seq, time: new Date(format.commitTime) };
    });
  }

  /**
   * Atomic layout: writes a checkpoint now (the full block map at the latest commit),
   * so that the next open reads it instead of the commits since the last one. They are
   * also written automatically every 100 commits. Does nothing in the direct layout.
   */
  async checkpoint(): Promise<void> {
    return this.#call(async () => {
      await this.#lease.vfs.mainFile(this.name)?.format.checkpoint?.();
    });
  }

  /** Runs one or more SQL statements, separated by semicolons; returns nothing. */
  async exec(sql: string): Promise<void> {
    checkSql(sql);
    return this.#call(() => this.#execNow(sql));
  }

  /** Runs one statement; returns the number of changed rows and the last inserted rowid. */
  async run(sql: string, params?: Params): Promise<RunResult> {
    checkSql(sql);
    return this.#call(
      () =>
        andThen(this.#withStatement(sql, params, (stmt) => stepToEnd(this.#sqlite, stmt)), () => {
          const rowid = this.#sqlite.lastInsertRowid(this.#db);
          return { changes: this.#sqlite.module._sqlite3_changes(this.#db), lastInsertRowid: integer(rowid.low, rowid.high) };
        }),
      true,
    );
  }

  /** Runs one statement; returns every row. */
  async all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    checkSql(sql);
    return this.#call(() => this.#withStatement(sql, params, (stmt) => this.#collect(stmt, Infinity) as MaybePromise<T[]>), true);
  }

  /** Runs one statement; returns its first row, or undefined when there is none. */
  async get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    checkSql(sql);
    return this.#call(() => this.#withStatement(sql, params, (stmt) => andThen(this.#collect(stmt, 1), (rows) => rows[0] as T | undefined)), true);
  }

  /**
   * Runs one statement and yields its rows one at a time, each step taking its turn
   * with other calls. Leaving the loop early (break, return, throw) finalises the
   * statement; so does close().
   */
  iterate<T extends object = Row>(sql: string, params?: Params): AsyncIterableIterator<T> {
    let stmt: number | undefined;
    let finished = false;
    const finish = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      const held = stmt;
      if (held === undefined || this.#closed) return;
      await this.#call(() => this.#finalize(held));
    };
    const iterator: AsyncIterableIterator<T> = {
      next: async () => {
        if (finished) return { done: true, value: undefined };
        try {
          const row = await this.#call(async () => {
            if (stmt === undefined) {
              checkSql(sql);
              stmt = await this.#prepare(sql, params);
            }
            if (!this.#live.has(stmt)) return undefined;
            return (await this.#collect(stmt, 1))[0] as T | undefined;
          });
          if (row !== undefined) return { done: false, value: row };
        } catch (error) {
          await finish().catch(() => undefined);
          throw error;
        }
        await finish();
        return { done: true, value: undefined };
      },
      return: async () => {
        await finish();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Runs `fn` in a transaction: BEGIN, then COMMIT if `fn` resolves (returning its
   * result) or ROLLBACK if it throws (rethrowing). Nested calls (from within `fn`)
   * become SAVEPOINTs, rolled back on their own if their `fn` throws. A transaction that
   * fails with SQLITE_BUSY (its commit lost to another writer, say) is rolled back and
   * run again from the start, for up to `busyTimeoutMs` ms: **`fn` may run more than
   * once**, each time on the state its reads then see.
   */
  async transaction<T>(fn: () => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') throw new BlockVfsError('invalid', 'transaction() needs a function', { source: SOURCE });
    if (this.#inTransactionScope()) return this.#savepoint(fn);
    // Wait for another caller's transaction on this connection; check and claim with no await in between.
    while (this.#transaction) await this.#transaction.done;
    this.#checkOpen();
    let finished!: () => void;
    const scope: TransactionScope = { database: this };
    this.#transaction = { scope, done: new Promise<void>((resolve) => (finished = resolve)) };
    const attempt = () =>
      this.#scope.run(scope, async () => {
        await this.exec('BEGIN');
        let result: T;
        try {
          result = await fn();
        } catch (error) {
          await this.#rollbackIfActive();
          throw error;
        }
        try {
          await this.exec('COMMIT');
        } catch (error) {
          // A COMMIT that failed (SQLITE_BUSY: a lost race, readers still present; an I/O error) may leave the transaction open.
          await this.#rollbackIfActive();
          throw error;
        }
        return result;
      });
    try {
      // Busy (rolled back whole by now): run again from the start, on the state the next BEGIN sees.
      return await this.#busy.run(attempt, isBusyError);
    } finally {
      this.#transaction = undefined;
      finished();
    }
  }

  /** `await using db = await openDatabase(…)`: closes the database when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Finalises every statement and closes the connection; later calls reject. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#inTransactionScope()) while (this.#transaction) await this.#transaction.done;
    await this.#engine.queue.run(() => this.#closeNow());
  }

  async #closeNow(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { api } = this.#sqlite;
    for (const stmt of this.#live) await api.finalize(stmt);
    this.#live.clear();
    this.#idle.clear();
    this.#lease.vfs.takeLastError();
    try {
      await api.close(this.#db);
    } catch (error) {
      throw toError(error, this.#lease);
    } finally {
      this.#lease.release();
      releaseEngine(this.#engine);
    }
    // SQLite ignores a failure to close a file, yet that close may have been the write of buffered changes.
    const lost = this.#lease.vfs.takeLastError();
    if (lost !== undefined) {
      const reason = lost instanceof Error ? lost.message : String(lost);
      throw new SqliteError(`closing "${this.name}" failed to write buffered changes (SQLITE_IOERR_CLOSE): ${reason}`, SQLITE_IOERR_CLOSE, { cause: lost });
    }
  }

  async #execNow(sql: string): Promise<void> {
    const { api } = this.#sqlite;
    for await (const stmt of api.statements(this.#db, sql, { unscoped: true })) {
      this.#live.add(stmt);
      try {
        await this.#stepOut(stmt);
      } finally {
        await this.#finalize(stmt);
      }
    }
  }

  /**
   * Steps one statement of exec() to its end. Busy in autocommit mode (nothing of it is
   * done: SQLite rolled its implicit transaction back), it is reset and stepped again,
   * waiting between tries (BusyRetry), so that the statements before it, already
   * committed, are not run twice. Inside a transaction the caller's transaction retries.
   */
  async #stepOut(stmt: number): Promise<void> {
    const started = this.#busy.start();
    for (let tries = 0; ; tries++) {
      try {
        await stepToEnd(this.#sqlite, stmt);
        return;
      } catch (error) {
        if (!this.#busyAndUndone(error) || !(await this.#busy.pause(started, tries))) throw error;
        await this.#sqlite.api.reset(stmt).catch(() => undefined); // reset reports the same busy again
      }
    }
  }

  /** Whether `error` is SQLITE_BUSY that left the connection in autocommit mode, outside any transaction() of ours. */
  #busyAndUndone(error: unknown): boolean {
    const code = waSqliteErrorCode(error);
    return code !== undefined && primaryCode(code) === SQLITE_BUSY && this.#sqlite.api.get_autocommit(this.#db) !== 0 && !this.#inTransactionScope();
  }

  #inTransactionScope(): boolean {
    const scope = this.#scope.getStore();
    return scope !== undefined && scope === this.#transaction?.scope;
  }

  async #savepoint<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#savepoints += 1;
    const name = `blockvfs_savepoint_${this.#savepoints}`;
    await this.exec(`SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      if (this.#sqlite.api.get_autocommit(this.#db) === 0) await this.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw error;
    }
    await this.exec(`RELEASE ${name}`);
    return result;
  }

  async #rollbackIfActive(): Promise<void> {
    if (this.#closed) return;
    // SQLite rolls back by itself after some errors; a ROLLBACK then would fail.
    if (this.#sqlite.api.get_autocommit(this.#db) !== 0) return;
    await this.exec('ROLLBACK').catch(() => undefined);
  }

  /**
   * Waits for its turn (after another caller's transaction, after earlier calls), then
   * runs `task`. With `retry`, an autocommit call that SQLite reports busy is run again
   * (BusyRetry); inside a transaction() the transaction retries instead.
   */
  #call<T>(task: () => MaybePromise<T>, retry = false): Promise<T> {
    if (retry && !this.#inTransactionScope()) {
      return this.#busy.run(() => this.#callOnce(task), (error) => typeof error === 'object' && error !== null && this.#retryable.has(error));
    }
    return this.#callOnce(task);
  }

  #callOnce<T>(task: () => MaybePromise<T>): Promise<T> {
    this.#checkOpen();
    if (this.#transaction && !this.#inTransactionScope()) return this.#callAfterTransactions(task);
    return this.#guard(task);
  }

  async #callAfterTransactions<T>(task: () => MaybePromise<T>): Promise<T> {
    while (this.#transaction) await this.#transaction.done;
    return this.#guard(task);
  }

  #guard<T>(task: () => MaybePromise<T>): Promise<T> {
    const fail = (error: unknown): never => {
      const failure = isBlockVfsError(error) ? error : toError(error, this.#lease);
      if (this.#busyAndUndone(error)) this.#retryable.add(failure); // decided in the call's turn, while the module is ours
      throw failure;
    };
    return this.#engine.queue.run(() => {
      this.#checkOpen();
      this.#lease.vfs.takeLastError(); // errors of earlier calls are not ours
      try {
        const result = task();
        return result instanceof Promise ? result.catch(fail) : result;
      } catch (error) {
        return fail(error);
      }
    });
  }

  #checkOpen(): void {
    if (this.#closed) throw new BlockVfsError('invalid', `database "${this.name}" is closed`, { source: SOURCE });
  }

  /** Prepares exactly one statement and binds `params`; finalises it on any failure. */
  async #prepare(sql: string, params: Params | undefined): Promise<number> {
    const { api } = this.#sqlite;
    const statements = api.statements(this.#db, sql, { unscoped: true });
    let stmt: number | undefined;
    try {
      const first = await statements.next();
      if (first.done) throw new BlockVfsError('invalid', `no SQL statement in ${JSON.stringify(sql)}`, { source: SOURCE });
      stmt = first.value;
      this.#live.add(stmt);
      const second = await statements.next();
      if (!second.done) {
        this.#live.add(second.value);
        await this.#finalize(second.value);
        throw new BlockVfsError('invalid', 'the SQL holds more than one statement; use exec() for several', { source: SOURCE });
      }
      bindParams(this.#sqlite, stmt, params);
      return stmt;
    } catch (error) {
      if (stmt !== undefined) await this.#finalize(stmt);
      throw error;
    } finally {
      await statements.return(undefined);
    }
  }

  /**
   * Runs `use` with a statement for `sql` (`params` bound), then resets it and keeps it
   * for reuse. Statements in memory and steps that do not suspend SQLite make the whole
   * call synchronous (see maybe-async.ts).
   */
  #withStatement<T>(sql: string, params: Params | undefined, use: (stmt: number) => MaybePromise<T>): MaybePromise<T> {
    return andThen(this.#checkout(sql, params), (stmt) =>
      andFinally(
        () => use(stmt),
        () => this.#checkin(sql, stmt),
      ),
    );
  }

  /** A statement for `sql` with `params` bound: a cached one when there is one, else newly prepared. */
  #checkout(sql: string, params: Params | undefined): MaybePromise<number> {
    const stmt = this.#idle.get(sql);
    if (stmt === undefined) return this.#prepare(sql, params);
    this.#idle.delete(sql); // checked out: no other call can get it meanwhile
    try {
      bindParams(this.#sqlite, stmt, params);
      return stmt;
    } catch (error) {
      return andThen(this.#checkin(sql, stmt), () => {
        throw error;
      });
    }
  }

  /** Resets a statement from #checkout and keeps it for reuse; one whose last step failed is finalised instead. */
  #checkin(sql: string, stmt: number): MaybePromise<void> {
    if (!this.#live.has(stmt)) return;
    let reset: MaybePromise<number>;
    try {
      reset = this.#sqlite.reset(stmt); // throws the last step's error, if it failed
    } catch {
      return this.#finalize(stmt);
    }
    if (reset instanceof Promise) {
      return reset.then(
        () => this.#keep(sql, stmt),
        () => this.#finalize(stmt),
      );
    }
    return this.#keep(sql, stmt);
  }

  /** Keeps a reset statement for reuse, finalising a duplicate and the least recently used beyond STATEMENT_CACHE_SIZE. */
  #keep(sql: string, stmt: number): MaybePromise<void> {
    this.#sqlite.api.clear_bindings(stmt);
    const held = this.#idle.get(sql);
    this.#idle.delete(sql);
    this.#idle.set(sql, stmt);
    const dropped: number[] = held === undefined ? [] : [held];
    if (this.#idle.size > STATEMENT_CACHE_SIZE) {
      const [oldestSql, oldest] = this.#idle.entries().next().value as [string, number];
      this.#idle.delete(oldestSql);
      dropped.push(oldest);
    }
    if (dropped.length === 0) return;
    return (async () => {
      for (const old of dropped) await this.#finalize(old);
    })();
  }

  /**
   * Steps `stmt` for up to `limit` rows and returns them. Column names are read after
   * the first step: a reused statement is prepared again there if the schema changed.
   */
  #collect(stmt: number, limit: number, rows: Row[] = [], known?: readonly string[]): MaybePromise<Row[]> {
    const { module } = this.#sqlite;
    let columns = known;
    while (rows.length < limit) {
      const code = this.#sqlite.step(stmt);
      if (code instanceof Promise) {
        return code.then((settled) => {
          if (settled !== SQLITE_ROW) return rows;
          columns ??= this.#names.of(stmt);
          rows.push(readRow(module, stmt, columns));
          return this.#collect(stmt, limit, rows, columns);
        });
      }
      if (code !== SQLITE_ROW) break;
      columns ??= this.#names.of(stmt);
      rows.push(readRow(module, stmt, columns));
    }
    return rows;
  }

  async #finalize(stmt: number): Promise<void> {
    if (!this.#live.delete(stmt)) return;
    this.#names.forget(stmt);
    await this.#sqlite.api.finalize(stmt);
  }
}

/** Steps `stmt` until it is done, waiting only for steps that suspended SQLite (see WaSqlite.step). */
function stepToEnd(sqlite: WaSqlite, stmt: number): MaybePromise<void> {
  for (;;) {
    const code = sqlite.step(stmt);
    if (code instanceof Promise) return code.then((settled) => (settled === SQLITE_ROW ? stepToEnd(sqlite, stmt) : undefined));
    if (code !== SQLITE_ROW) return;
  }
}

function checkSql(sql: unknown): void {
  if (typeof sql !== 'string') throw new BlockVfsError('invalid', `SQL must be a string, got ${typeof sql}`, { source: SOURCE });
}
