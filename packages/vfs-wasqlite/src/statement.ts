import type { RunResult } from './database.js';
import type { Params, Row } from './values.js';

/** What a Statement asks of its Database (each call takes its turn there, as the Database's own calls do). @internal */
export interface StatementCalls<T> {
  run(params: Params | undefined): Promise<RunResult>;
  get(params: Params | undefined): Promise<T | undefined>;
  all(params: Params | undefined): Promise<T[]>;
  iterate(params: Params | undefined): AsyncIterableIterator<T>;
  finalize(): Promise<void>;
}

/**
 * One SQL statement prepared by `db.prepare(sql)`, run as often as needed with new
 * parameters: `run`, `get`, `all` and `iterate` as on the Database, without its lookup
 * of the SQL text. While an `iterate()` over it is unfinished, other calls on it fail
 * ('invalid'); finish the loop or leave it first. `finalize()` frees it (close() does
 * too); calls after that fail.
 */
export class Statement<T extends object = Row> {
  /** The SQL text the statement was prepared from. */
  readonly sql: string;
  readonly #calls: StatementCalls<T>;

  /** @internal Use Database.prepare(). */
  constructor(sql: string, calls: StatementCalls<T>) {
    this.sql = sql;
    this.#calls = calls;
  }

  /** Runs the statement; returns the number of changed rows and the last inserted rowid. */
  run(params?: Params): Promise<RunResult> {
    return this.#calls.run(params);
  }

  /** Runs the statement; returns its first row, or undefined when there is none. */
  get(params?: Params): Promise<T | undefined> {
    return this.#calls.get(params);
  }

  /** Runs the statement; returns every row. */
  all(params?: Params): Promise<T[]> {
    return this.#calls.all(params);
  }

  /** Runs the statement and yields its rows one at a time (see Database.iterate). */
  iterate(params?: Params): AsyncIterableIterator<T> {
    return this.#calls.iterate(params);
  }

  /** Frees the statement; later calls fail. Harmless twice, and after the database closed. */
  async finalize(): Promise<void> {
    return this.#calls.finalize();
  }
}
