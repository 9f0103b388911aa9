import { AsyncLocalStorage } from 'node:async_hooks';
import { AtomicFormat, type PagedFile } from '@blockvfs/core/format';
import { BlockVfsError, isBlockVfsError, type Layout } from '@blockvfs/core';
import type { BusyRetry } from './busy-retry.js';
import { toError } from './caller-error.js';
import type { Engine, VfsLease } from './runtime.js';
import { releaseEngine } from './runtime.js';
import { SQLITE_BUSY, SQLITE_IOERR_CLOSE, SQLITE_IOERR_LOCK, SQLITE_ROW, primaryCode } from './sqlite-codes.js';
import { SqliteError, isBusyError } from './sqlite-error.js';
import { andThen, type MaybePromise } from './maybe-async.js';
import type { Speculation } from './vfs/base-vfs.js';
import { StatementCache } from './statement-cache.js';
import { Statement } from './statement.js';
import { integer, readRow, type Params, type Row } from './values.js';
import { waSqliteErrorCode, type WaSqlite } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

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

/** Runs `use` with a statement ready to step (parameters bound), and puts the statement back afterwards. */
type WithStatement = <R>(use: (stmt: number) => MaybePromise<R>) => MaybePromise<R>;

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
  /** The connection's prepared statements, some kept for reuse. */
  readonly #statements: StatementCache;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  #transaction: { scope: TransactionScope; done: Promise<void> } | undefined;
  #savepoints = 0;
  #closed = false;
  /** The database file, once looked up (see #callHeldBack). */
  #mainFile: PagedFile | undefined;
  /** Stops telling this database's requests to its listeners (see observe.ts). */
  readonly #stopObserving: () => void;

  /** @internal Use openDatabase(). */
  constructor(engine: Engine, lease: VfsLease, db: number, name: string, busy: BusyRetry, stopObserving: () => void) {
    this.#engine = engine;
    this.#sqlite = engine.sqlite;
    this.#lease = lease;
    this.#db = db;
    this.name = name;
    this.#busy = busy;
    this.#stopObserving = stopObserving;
    this.#statements = new StatementCache(engine.sqlite, db);
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
    return this.#run((use) => this.#statements.withStatement(sql, params, use));
  }

  /** Runs one statement; returns every row. */
  async all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    checkSql(sql);
    return this.#rows<T>((use) => this.#statements.withStatement(sql, params, use), Infinity);
  }

  /** Runs one statement; returns its first row, or undefined when there is none. */
  async get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    checkSql(sql);
    return this.#first<T>((use) => this.#statements.withStatement(sql, params, use));
  }

  /**
   * Runs one statement and yields its rows one at a time, each step taking its turn
   * with other calls. Leaving the loop early (break, return, throw) finalises the
   * statement; so does close().
   */
  iterate<T extends object = Row>(sql: string, params?: Params): AsyncIterableIterator<T> {
    return this.#iterate<T>(
      () => {
        checkSql(sql);
        return this.#statements.prepare(sql, params);
      },
      (stmt) => this.#statements.finalize(stmt),
    );
  }

  /**
   * Prepares one statement for running many times, as better-sqlite3's `prepare`: its
   * `run`, `get`, `all` and `iterate` take only the parameters, with no lookup of the SQL
   * text. It stays prepared until `finalize()` or close() (SQLite prepares it again by
   * itself when the schema changes).
   */
  async prepare<T extends object = Row>(sql: string): Promise<Statement<T>> {
    checkSql(sql);
    const stmt = await this.#call(() => this.#statements.prepare(sql, undefined, false), true);
    let iterating = false;
    const idle = () => {
      if (iterating) throw new BlockVfsError('invalid', `the statement ${JSON.stringify(sql)} is in use by an iterate() not yet finished`, { source: SOURCE });
    };
    // Checked in the call's turn: an iterate() may have started since the call was made.
    const held =
      (params: Params | undefined): WithStatement =>
      (use) => {
        idle();
        return this.#statements.withHeld(stmt, params, use);
      };
    return new Statement<T>(sql, {
      run: (params) => this.#run(held(params)),
      get: (params) => this.#first<T>(held(params)),
      all: (params) => this.#rows<T>(held(params), Infinity),
      iterate: (params) =>
        this.#iterate<T>(
          async () => {
            idle();
            this.#statements.bindHeld(stmt, params);
            iterating = true;
            return stmt;
          },
          async (used) => {
            iterating = false;
            await this.#statements.resetHeld(used);
          },
        ),
      finalize: async () => {
        if (this.#closed) return;
        await this.#call(() => this.#statements.finalize(stmt));
      },
    });
  }

  #run(withStatement: WithStatement): Promise<RunResult> {
    return this.#callHeldBack(() =>
      andThen(
        withStatement((stmt) => stepToEnd(this.#sqlite, stmt)),
        () => {
          const rowid = this.#sqlite.lastInsertRowid(this.#db);
          return { changes: this.#sqlite.module._sqlite3_changes(this.#db), lastInsertRowid: integer(rowid.low, rowid.high) };
        },
      ),
    );
  }

  #rows<T>(withStatement: WithStatement, limit: number): Promise<T[]> {
    return this.#callHeldBack(() => withStatement((stmt) => this.#collect(stmt, limit) as MaybePromise<T[]>));
  }

  #first<T>(withStatement: WithStatement): Promise<T | undefined> {
    return this.#callHeldBack(() => withStatement((stmt) => andThen(this.#collect(stmt, 1), firstRow) as MaybePromise<T | undefined>));
  }

  /**
   * Runs one statement of run/get/all as `#call` does (retrying busy), letting its read
   * transaction start before its look for other writers' commits answers (see
   * AtomicVFS.speculate): the look and the first block reads travel together. The result
   * (rows, or an error) is held back until the look answers; if it found a newer commit,
   * what the statement read may be older than it, so the call runs again, this time
   * looking first, as every call outside this path does. A statement that began a write
   * waited for its look before writing (see AtomicVFS.jLock), so its result stands.
   */
  #callHeldBack<T>(task: () => MaybePromise<T>): Promise<T> {
    const vfs = this.#lease.vfs;
    // No look to make (a held lease, within freshnessMs, the direct layout): nothing to hold back.
    this.#mainFile ??= vfs.mainFile(this.name);
    if (!this.#mainFile?.refreshNeeded) return this.#call(task, true);
    let speculation: Speculation | undefined;
    /** Set in the call's turn when there is nothing to hold back: no look was started. */
    let nothingHeld = false;
    const speculating = (): MaybePromise<T> => {
      // Only a statement in autocommit mode: inside BEGIN … COMMIT, its rows would be part of a longer
      // transaction, whose first statement made its look (and waited for it) already.
      if (this.#sqlite.module._sqlite3_get_autocommit(this.#db) === 0) {
        nothingHeld = true;
        return task();
      }
      vfs.speculate();
      let result: MaybePromise<T>;
      try {
        result = task();
      } catch (error) {
        speculation = vfs.endSpeculation();
        throw error;
      }
      if (!(result instanceof Promise)) {
        speculation = vfs.endSpeculation();
        nothingHeld = !needsCheck(speculation);
        return result;
      }
      const end = (): void => {
        speculation = vfs.endSpeculation();
      };
      result.then(end, end);
      return result;
    };
    const result = this.#call(speculating, true);
    // The usual cases, decided if the call ran at once: every page in memory and no look started, or a
    // statement inside a transaction (one per row of a bulk insert: an async hold-back each would cost 10%).
    if (nothingHeld) return result;
    return this.#heldBack(result, () => speculation, task);
  }

  /** `result`, once the looks of the speculation it ran under (see #callHeldBack) found no newer commit; else the call again. */
  async #heldBack<T>(result: Promise<T>, speculationOf: () => Speculation | undefined, task: () => MaybePromise<T>): Promise<T> {
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await result };
    } catch (error) {
      outcome = { error };
    }
    const speculation = speculationOf();
    if (speculation && needsCheck(speculation)) {
      let failure: { error: unknown } | undefined;
      const moved = await Promise.all(speculation.looks).then(
        (answers) => answers.includes(true),
        (error: unknown) => {
          failure = { error };
          return false;
        },
      );
      // A failed look validates nothing: the call fails as it would have had it waited for the look.
      if (failure) throw lookFailed(failure.error);
      if (moved) return this.#call(task, true);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  /** Rows one at a time from the statement `open` gives (in the first call's turn), handed to `close` once done or left. */
  #iterate<T>(open: () => Promise<number>, close: (stmt: number) => Promise<void>): AsyncIterableIterator<T> {
    let stmt: number | undefined;
    let finished = false;
    const finish = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      const held = stmt;
      if (held === undefined || this.#closed) return;
      await this.#call(() => close(held));
    };
    const iterator: AsyncIterableIterator<T> = {
      next: async () => {
        if (finished) return { done: true, value: undefined };
        try {
          const row = await this.#call(async () => {
            stmt ??= await open();
            if (!this.#statements.has(stmt)) return undefined;
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
    await this.#statements.finalizeAll();
    this.#lease.vfs.takeLastError();
    try {
      await api.close(this.#db);
    } catch (error) {
      throw toError(error, this.#lease);
    } finally {
      this.#lease.release();
      releaseEngine(this.#engine);
      this.#stopObserving();
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
      this.#statements.add(stmt);
      try {
        await this.#stepOut(stmt);
      } finally {
        await this.#statements.finalize(stmt);
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
    if (this.#transaction === undefined) return false; // no transaction(): no scope to look up (the common case, on every call)
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
    if (!retry || this.#inTransactionScope()) return this.#callOnce(task);
    // The first try costs no more than an untried call; a retryable failure starts BusyRetry's waits from when it started.
    const started = this.#busy.start();
    return this.#callOnce(task).catch(async (error: unknown) => {
      if (!this.#isRetryable(error) || !(await this.#busy.pause(started, 0))) throw error;
      return this.#busy.run(() => this.#callOnce(task), this.#isRetryable, started, 1);
    });
  }

  readonly #isRetryable = (error: unknown): boolean => typeof error === 'object' && error !== null && this.#retryable.has(error);

  #callOnce<T>(task: () => MaybePromise<T>): Promise<T> {
    // A rejection, not a throw: a prepared Statement's methods hand this promise on as they get it.
    if (this.#closed) return Promise.reject(this.#closedError());
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
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): BlockVfsError {
    return new BlockVfsError('invalid', `database "${this.name}" is closed`, { source: SOURCE });
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
          columns ??= this.#statements.columnNames(stmt);
          rows.push(readRow(module, stmt, columns));
          return this.#collect(stmt, limit, rows, columns);
        });
      }
      if (code !== SQLITE_ROW) break;
      columns ??= this.#statements.columnNames(stmt);
      rows.push(readRow(module, stmt, columns));
    }
    return rows;
  }
}

/** Steps `stmt` until it is done, waiting only for steps that suspended SQLite (see WaSqlite.step). */
export function stepToEnd(sqlite: WaSqlite, stmt: number): MaybePromise<void> {
  for (;;) {
    const code = sqlite.step(stmt);
    if (code instanceof Promise) return code.then((settled) => (settled === SQLITE_ROW ? stepToEnd(sqlite, stmt) : undefined));
    if (code !== SQLITE_ROW) return;
  }
}

const firstRow = (rows: Row[]): Row | undefined => rows[0];

/** The error of a call whose look for new commits failed: the one SQLite reports when taking its lock fails so. */
function lookFailed(cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SqliteError(`disk I/O error (SQLITE_IOERR_LOCK): ${reason}`, SQLITE_IOERR_LOCK, { cause });
}

/** Whether a speculating call's result must wait for its looks: it started some, and began no write (whose look was waited for). */
const needsCheck = (speculation: Speculation | undefined): boolean => speculation !== undefined && speculation.looks.length > 0 && !speculation.wrote;

function checkSql(sql: unknown): void {
  if (typeof sql !== 'string') throw new BlockVfsError('invalid', `SQL must be a string, got ${typeof sql}`, { source: SOURCE });
}
