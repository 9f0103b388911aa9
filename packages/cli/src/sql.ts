import { openDatabase, type Database, type Row } from '@blockvfs/vfs-wasqlite';
import { CliError, EXIT } from './errors.js';
import { formatRows, type ResultFormat } from './result-format.js';
import { splitStatements } from './sql-text.js';
import { databaseExists } from './transfer.js';
import type { Target } from './session.js';

export interface SqlOpenOptions {
  /** Create the database when it does not exist (otherwise a missing one is an error: a typo in a URL should not make a new database). */
  create?: boolean;
  readOnly?: boolean;
  asOf?: number | Date;
  pageSize?: number;
}

/** Opens the database a URL names for SQL, refusing a missing one unless `create`. */
export async function openForSql(target: Target, options: SqlOpenOptions = {}): Promise<Database> {
  const readOnly = options.readOnly === true || options.asOf !== undefined;
  if (!options.create && !readOnly && !(await databaseExists(target.store, target.name))) {
    throw new CliError(`there is no database at ${target.url.url} (use --create to make one)`, EXIT.notFound);
  }
  return openDatabase({
    store: target.store,
    name: target.name,
    readOnly,
    ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
    ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
  });
}

/**
 * Runs the statements in `text` one after another (`Database.all` takes one at a time)
 * and writes each one's rows in `format`; a statement that returns no rows writes
 * nothing, as in `sqlite3`. With `json`, all rows of the text form one array.
 */
export async function runSql(db: Database, text: string, format: ResultFormat, write: (output: string) => void): Promise<number> {
  const { statements, rest } = splitStatements(text);
  if (rest !== '') statements.push(rest);
  if (statements.length === 0) throw new CliError('no SQL statement given', EXIT.usage);
  const collected: Row[] = [];
  for (const statement of statements) {
    const rows = await db.all(statement);
    if (format === 'json') collected.push(...rows);
    else if (rows.length > 0) write(formatRows(rows, format));
  }
  if (format === 'json') write(formatRows(collected, 'json'));
  return statements.length;
}
