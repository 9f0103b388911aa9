/**
 * Direct calls into wasm for the SQLite functions that never suspend, in the Asyncify build.
 *
 * Emscripten's Asyncify glue wraps every wasm export in a function that gathers its
 * arguments into an array, pushes the export's name on a stack, calls it and then checks
 * whether an unwind has to stop. Only a function that can reach an async import (a VFS
 * method that waits: step, reset, finalize, prepare, open, close) needs that. For a column
 * read or a bind, which touch only SQLite's memory, the wrapper cost about as much as the
 * call: a scan makes five such calls per row of two columns, a point query about eight.
 *
 * The glue names the exports by minified keys (`Module["_sqlite3_column_type"] =
 * wasmExports["xc"]`), so the map from SQLite's names to the instance's own exports is
 * read from the glue's source text. A glue whose text does not show a function's key
 * leaves that function wrapped, which is only slower.
 */

/**
 * Functions that only read or write SQLite's memory: none calls a VFS method, so none can
 * suspend SQLite. (Allocation may grow the wasm memory: a synchronous import.)
 */
export const NEVER_SUSPENDING = [
  '_sqlite3_bind_double',
  '_sqlite3_bind_int',
  '_sqlite3_bind_null',
  '_sqlite3_bind_parameter_count',
  '_sqlite3_bind_text',
  '_sqlite3_bind_zeroblob',
  '_sqlite3_changes',
  '_sqlite3_clear_bindings',
  '_sqlite3_column_blob',
  '_sqlite3_column_bytes',
  '_sqlite3_column_count',
  '_sqlite3_column_double',
  '_sqlite3_column_int64',
  '_sqlite3_column_name',
  '_sqlite3_column_text',
  '_sqlite3_column_type',
  '_sqlite3_db_handle',
  '_sqlite3_extended_errcode',
  '_sqlite3_free',
  '_sqlite3_get_autocommit',
  '_sqlite3_last_insert_rowid',
  '_sqlite3_malloc',
  '_sqlite3_stmt_status',
] as const;

const ASSIGNMENT = /Module\["(_sqlite3_[a-z0-9_]+)"\]\s*=\s*wasmExports\["([A-Za-z0-9_$]+)"\]/g;

/** The glue's map from each `_sqlite3_…` function to the key of the wasm export it calls. */
export function exportKeys(glueSource: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [, name, key] of glueSource.matchAll(ASSIGNMENT)) keys.set(name as string, key as string);
  return keys;
}

/**
 * Points each NEVER_SUSPENDING function of `module` straight at the instance's export
 * (`exports`, as instantiated, before the glue wrapped it). Returns the names it replaced.
 * Call it before anything captures the module's functions.
 */
export function callDirectly(module: object, exports: Record<string, unknown>, keys: ReadonlyMap<string, string>): string[] {
  const target = module as Record<string, unknown>;
  const replaced: string[] = [];
  for (const name of NEVER_SUSPENDING) {
    const key = keys.get(name);
    const direct = key === undefined ? undefined : exports[key];
    if (typeof direct !== 'function' || typeof target[name] !== 'function') continue;
    target[name] = direct;
    replaced.push(name);
  }
  return replaced;
}
