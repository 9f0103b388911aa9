export { openDatabase, DEFAULT_PAGE_SIZE, DEFAULT_CACHE_KIB, type OpenDatabaseOptions } from './open-database.js';
export { Database, type CommitVersion, type RunResult } from './database.js';
export { Statement } from './statement.js';
export { STATEMENT_CACHE_SIZE } from './statement-cache.js';
export type { BindValue, Params, Row, SqlValue } from './values.js';
export { SqliteError, isBusyError } from './sqlite-error.js';
export { MAX_NAME_BYTES } from './database-name.js';
export { MAX_IDLE_ENGINES, warmEngines } from './runtime.js';
export { DEFAULT_BUSY_TIMEOUT_MS } from './busy-retry.js';
export {
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_CONSTRAINT,
  SQLITE_CORRUPT,
  SQLITE_ERROR,
  SQLITE_IOERR,
  SQLITE_READONLY,
  codeName,
} from './sqlite-codes.js';
export { BlockVFS, type BlockVfsConstructor } from './vfs/block-vfs.js';
export { AtomicVFS } from './vfs/atomic-vfs.js';
export { DirectVFS } from './vfs/direct-vfs.js';
export type { BlockVfsOptions } from './vfs/options.js';
export { SYNCHRONOUS_OFF_UNSUPPORTED, WAL_UNSUPPORTED } from './vfs/refusals.js';
export {
  loadWaSqlite,
  jspiSupported,
  BUILDS,
  type Build,
  type WaSqlite,
  type SqliteApi,
  type WasmModule,
} from './wa-sqlite-adapter.js';
