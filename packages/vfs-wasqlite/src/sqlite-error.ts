import { codeName, primaryCode, SQLITE_BUSY } from './sqlite-codes.js';

/**
 * An error SQLite reported. `code` is the primary result code (e.g. 5 for
 * SQLITE_BUSY, 19 for SQLITE_CONSTRAINT, 10 for SQLITE_IOERR), `extendedCode` the
 * extended one (e.g. 2067 SQLITE_CONSTRAINT_UNIQUE, 778 SQLITE_IOERR_WRITE) and
 * `codeName` its symbolic name. When a store request caused it, the message ends
 * with the store's message and `cause` is the store's error (a BlockVfsError).
 */
/** Its brand: recognised across two copies of this package, where `instanceof` alone is not (as core's errors). */
const BRAND = Symbol.for('@blockvfs/SqliteError');

export class SqliteError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  override readonly name = 'SqliteError';
  readonly code: number;
  readonly extendedCode: number;
  readonly codeName: string;

  constructor(message: string, extendedCode: number, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.extendedCode = extendedCode;
    this.code = primaryCode(extendedCode);
    this.codeName = codeName(extendedCode);
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }

  /** True for SQLITE_BUSY: another connection holds a lock this statement needs; retry later. */
  get busy(): boolean {
    return this.code === SQLITE_BUSY;
  }
}

/** True when `error` is an SqliteError reporting SQLITE_BUSY. */
export function isBusyError(error: unknown): error is SqliteError {
  return error instanceof SqliteError && error.busy;
}
