import { BlockVfsError } from '@blockvfs/core';
import { SQLITE_BLOB, SQLITE_FLOAT, SQLITE_INTEGER, SQLITE_NULL, SQLITE_TEXT } from './sqlite-codes.js';
import type { SqliteApi, WaSqlite } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

/** A value SQLite hands back: integers as numbers, or as bigints only outside the safe integer range. */
export type SqlValue = number | bigint | string | Uint8Array | null;
/** A value that can be bound to a parameter (booleans become 1 and 0). */
export type BindValue = SqlValue | boolean;
/** Positional parameters (`?`, `?NNN`) as an array, or named ones (`:x`, `@x`, `$x`) as an object, keys with or without the prefix. */
export type Params = readonly BindValue[] | Readonly<Record<string, BindValue>>;
/** A result row: column name → value. */
export type Row = Record<string, SqlValue>;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function invalid(message: string): BlockVfsError {
  return new BlockVfsError('invalid', message, { source: SOURCE });
}

/** Binds `params` to every parameter of `stmt`; a missing or unusable value is an 'invalid' error. */
export function bindParams(sqlite: WaSqlite, stmt: number, params: Params | undefined): void {
  const { api } = sqlite;
  const count = api.bind_parameter_count(stmt);
  if (params === undefined || params === null) {
    if (count > 0) throw invalid(`the statement has ${count} parameter(s) but no values were given`);
    return;
  }
  if (Array.isArray(params)) {
    const values = params as readonly BindValue[];
    if (values.length !== count) throw invalid(`the statement has ${count} parameter(s) but ${values.length} value(s) were given`);
    values.forEach((value, i) => bindValue(sqlite, stmt, i + 1, value, `parameter ${i + 1}`));
    return;
  }
  if (typeof params !== 'object' || params instanceof Uint8Array) {
    throw invalid(`parameters must be an array (positional) or a plain object (named), got ${describe(params)}`);
  }
  const named = params as Readonly<Record<string, BindValue>>;
  for (let i = 1; i <= count; i++) {
    const name = api.bind_parameter_name(stmt, i);
    if (!name || name.startsWith('?')) {
      throw invalid(`parameter ${i} is positional (${name ?? '?'}): pass the values as an array`);
    }
    const bare = name.slice(1);
    const key = Object.hasOwn(named, name) ? name : Object.hasOwn(named, bare) ? bare : undefined;
    if (key === undefined) throw invalid(`no value for parameter ${name} (give key "${bare}" or "${name}")`);
    bindValue(sqlite, stmt, i, named[key] as BindValue, `parameter ${name}`);
  }
}

function bindValue(sqlite: WaSqlite, stmt: number, index: number, value: BindValue, what: string): void {
  const { api } = sqlite;
  switch (typeof value) {
    case 'number':
      if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) api.bind_int(stmt, index, value);
      // wa-sqlite would bind any integer beyond 32 bits as a double: keep it an integer.
      else if (Number.isSafeInteger(value)) api.bind_int64(stmt, index, BigInt(value));
      else api.bind_double(stmt, index, value);
      return;
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) throw invalid(`${what}: ${value} does not fit SQLite's 64-bit integers`);
      api.bind_int64(stmt, index, value);
      return;
    case 'string':
      api.bind_text(stmt, index, value);
      return;
    case 'boolean':
      api.bind_int(stmt, index, value ? 1 : 0);
      return;
    default:
      if (value === null) api.bind_null(stmt, index);
      else if (value instanceof Uint8Array) {
        if (value.length > 0) api.bind_blob(stmt, index, value);
        else sqlite.bindEmptyBlob(stmt, index);
      }
      else throw invalid(`${what}: cannot bind ${describe(value)}; use a number, bigint, string, Uint8Array, boolean or null`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** The column names of `stmt`'s result. */
export function columnNames(api: SqliteApi, stmt: number): string[] {
  return Array.from({ length: api.column_count(stmt) }, (_, i) => api.column_name(stmt, i));
}

/** The current row of `stmt`, copied out of wasm memory. */
export function readRow(api: SqliteApi, stmt: number, columns: readonly string[]): Row {
  const row: Row = {};
  columns.forEach((column, i) => {
    row[column] = readColumn(api, stmt, i);
  });
  return row;
}

function readColumn(api: SqliteApi, stmt: number, index: number): SqlValue {
  switch (api.column_type(stmt, index)) {
    case SQLITE_INTEGER:
      return safeNumber(api.column_int64(stmt, index));
    case SQLITE_FLOAT:
      return api.column_double(stmt, index);
    case SQLITE_TEXT:
      return api.column_text(stmt, index);
    case SQLITE_BLOB:
      return api.column_blob(stmt, index).slice(); // the view dies with the next call
    case SQLITE_NULL:
      return null;
    default:
      throw invalid(`column ${index} has an unknown SQLite type`);
  }
}

/** `value` as a number when it is a safe integer, else as the bigint. */
export function safeNumber(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
