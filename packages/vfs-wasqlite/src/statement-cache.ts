import { BlockVfsError } from '@blockvfs/core';
import { andFinally, andThen, type MaybePromise } from './maybe-async.js';
import { ColumnNames, bindParams, type Params } from './values.js';
import type { WaSqlite } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

/**
 * Prepared statements of run/get/all kept per connection for reuse, by SQL text.
 * Preparing costs more than running a point query, so a loop of the same statement
 * pays it once.
 */
export const STATEMENT_CACHE_SIZE = 64;

/**
 * The prepared statements of one connection: every one not yet finalised (all are
 * finalised before close), and the reset ones kept for reuse by SQL text (up to
 * STATEMENT_CACHE_SIZE, least recently used dropped first), with their column names.
 * Used within the connection's turn in its engine's queue, like every call into SQLite.
 */
export class StatementCache {
  readonly #sqlite: WaSqlite;
  readonly #db: number;
  /** Prepared statements not yet finalised: finalised before close. */
  readonly #live = new Set<number>();
  /** Reset statements ready for reuse, by SQL text, least recently used first (a subset of #live). */
  readonly #idle = new Map<string, number>();
  readonly #names: ColumnNames;

  constructor(sqlite: WaSqlite, db: number) {
    this.#sqlite = sqlite;
    this.#db = db;
    this.#names = new ColumnNames(sqlite.module);
  }

  /** Whether `stmt` is prepared and not yet finalised. */
  has(stmt: number): boolean {
    return this.#live.has(stmt);
  }

  /** Tracks a statement prepared elsewhere (exec's), so that finalize() and close finalise it. */
  add(stmt: number): void {
    this.#live.add(stmt);
  }

  /** The column names of `stmt`, read once per statement (after its first step: see Database's #collect). */
  columnNames(stmt: number): readonly string[] {
    return this.#names.of(stmt);
  }

  /** Prepares exactly one statement and binds `params` (unless `bind` is false); finalises it on any failure. */
  async prepare(sql: string, params: Params | undefined, bind = true): Promise<number> {
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
        await this.finalize(second.value);
        throw new BlockVfsError('invalid', 'the SQL holds more than one statement; use exec() for several', { source: SOURCE });
      }
      if (bind) bindParams(this.#sqlite, stmt, params);
      return stmt;
    } catch (error) {
      if (stmt !== undefined) await this.finalize(stmt);
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
  withStatement<T>(sql: string, params: Params | undefined, use: (stmt: number) => MaybePromise<T>): MaybePromise<T> {
    return andThen(this.#checkout(sql, params), (stmt) =>
      andFinally(
        () => use(stmt),
        () => this.#checkin(sql, stmt),
      ),
    );
  }

  /**
   * Runs `use` with `stmt`, a statement its owner holds (a prepared Statement's), with
   * `params` bound; then resets it for the next use, which keeps it prepared even when
   * its last step failed (the error is `use`'s to throw).
   */
  withHeld<T>(stmt: number, params: Params | undefined, use: (stmt: number) => MaybePromise<T>): MaybePromise<T> {
    this.bindHeld(stmt, params);
    return andFinally(
      () => use(stmt),
      () => this.resetHeld(stmt),
    );
  }

  /** Binds `params` to a held statement; a statement already finalised (close, finalize()) is an 'invalid' error. */
  bindHeld(stmt: number, params: Params | undefined): void {
    if (!this.#live.has(stmt)) throw new BlockVfsError('invalid', 'the statement has been finalized', { source: SOURCE });
    bindParams(this.#sqlite, stmt, params);
  }

  /** Resets a held statement and lets go of its bindings; the error of its last step, which reset repeats, is ignored here. */
  resetHeld(stmt: number): MaybePromise<void> {
    if (!this.#live.has(stmt)) return;
    const clear = (): void => void this.#sqlite.module._sqlite3_clear_bindings(stmt);
    let reset: MaybePromise<number>;
    try {
      reset = this.#sqlite.reset(stmt);
    } catch {
      return clear();
    }
    return reset instanceof Promise ? reset.then(clear, clear) : clear();
  }

  /** A statement for `sql` with `params` bound: a cached one when there is one, else newly prepared. */
  #checkout(sql: string, params: Params | undefined): MaybePromise<number> {
    const stmt = this.#idle.get(sql);
    if (stmt === undefined) return this.prepare(sql, params);
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
      return this.finalize(stmt);
    }
    if (reset instanceof Promise) {
      return reset.then(
        () => this.#keep(sql, stmt),
        () => this.finalize(stmt),
      );
    }
    return this.#keep(sql, stmt);
  }

  /** Keeps a reset statement for reuse, finalising a duplicate and the least recently used beyond STATEMENT_CACHE_SIZE. */
  #keep(sql: string, stmt: number): MaybePromise<void> {
    this.#sqlite.module._sqlite3_clear_bindings(stmt); // lets go of bound text and blobs (copies) while the statement waits
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
      for (const old of dropped) await this.finalize(old);
    })();
  }

  async finalize(stmt: number): Promise<void> {
    if (!this.#live.delete(stmt)) return;
    this.#names.forget(stmt);
    await this.#sqlite.api.finalize(stmt);
  }

  /** Finalises every statement (at close); the cache is empty afterwards. */
  async finalizeAll(): Promise<void> {
    const { api } = this.#sqlite;
    for (const stmt of this.#live) await api.finalize(stmt);
    this.#live.clear();
    this.#idle.clear();
  }
}
