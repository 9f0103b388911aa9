/**
 * SQLite's own numbers (result codes, open flags, lock levels, device
 * characteristics, file-control ops), written here rather than imported from a
 * wa-sqlite file so that only the adapter depends on a particular build. They are
 * fixed by SQLite's C API (sqlite3.h) and never change between builds.
 */

/** Primary result codes. */
export const SQLITE_OK = 0;
export const SQLITE_ERROR = 1;
export const SQLITE_BUSY = 5;
export const SQLITE_READONLY = 8;
export const SQLITE_IOERR = 10;
export const SQLITE_CORRUPT = 11;
export const SQLITE_NOTFOUND = 12;
export const SQLITE_CANTOPEN = 14;
export const SQLITE_CONSTRAINT = 19;
export const SQLITE_MISUSE = 21;
export const SQLITE_ROW = 100;
export const SQLITE_DONE = 101;

/** Extended I/O error codes the VFS returns, one per kind of operation. */
export const SQLITE_IOERR_READ = 266;
export const SQLITE_IOERR_SHORT_READ = 522;
export const SQLITE_IOERR_WRITE = 778;
export const SQLITE_IOERR_FSYNC = 1034;
export const SQLITE_IOERR_TRUNCATE = 1546;
export const SQLITE_IOERR_FSTAT = 1802;
export const SQLITE_IOERR_DELETE = 2570;
export const SQLITE_IOERR_ACCESS = 3338;
export const SQLITE_IOERR_LOCK = 3850;
export const SQLITE_IOERR_CLOSE = 4106;

const PRIMARY_NAMES: Record<number, string> = {
  0: 'SQLITE_OK',
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  16: 'SQLITE_EMPTY',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  24: 'SQLITE_FORMAT',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
  27: 'SQLITE_NOTICE',
  28: 'SQLITE_WARNING',
  100: 'SQLITE_ROW',
  101: 'SQLITE_DONE',
};

const EXTENDED_NAMES: Record<number, string> = {
  // I/O errors
  266: 'SQLITE_IOERR_READ',
  522: 'SQLITE_IOERR_SHORT_READ',
  778: 'SQLITE_IOERR_WRITE',
  1034: 'SQLITE_IOERR_FSYNC',
  1290: 'SQLITE_IOERR_DIR_FSYNC',
  1546: 'SQLITE_IOERR_TRUNCATE',
  1802: 'SQLITE_IOERR_FSTAT',
  2058: 'SQLITE_IOERR_UNLOCK',
  2314: 'SQLITE_IOERR_RDLOCK',
  2570: 'SQLITE_IOERR_DELETE',
  2826: 'SQLITE_IOERR_BLOCKED',
  3082: 'SQLITE_IOERR_NOMEM',
  3338: 'SQLITE_IOERR_ACCESS',
  3594: 'SQLITE_IOERR_CHECKRESERVEDLOCK',
  3850: 'SQLITE_IOERR_LOCK',
  4106: 'SQLITE_IOERR_CLOSE',
  4362: 'SQLITE_IOERR_DIR_CLOSE',
  4618: 'SQLITE_IOERR_SHMOPEN',
  4874: 'SQLITE_IOERR_SHMSIZE',
  5130: 'SQLITE_IOERR_SHMLOCK',
  5386: 'SQLITE_IOERR_SHMMAP',
  5642: 'SQLITE_IOERR_SEEK',
  5898: 'SQLITE_IOERR_DELETE_NOENT',
  6154: 'SQLITE_IOERR_MMAP',
  6410: 'SQLITE_IOERR_GETTEMPPATH',
  6666: 'SQLITE_IOERR_CONVPATH',
  6922: 'SQLITE_IOERR_VNODE',
  7178: 'SQLITE_IOERR_AUTH',
  7434: 'SQLITE_IOERR_BEGIN_ATOMIC',
  7690: 'SQLITE_IOERR_COMMIT_ATOMIC',
  7946: 'SQLITE_IOERR_ROLLBACK_ATOMIC',
  8202: 'SQLITE_IOERR_DATA',
  8458: 'SQLITE_IOERR_CORRUPTFS',
  // busy, locked, readonly, cantopen, corrupt, abort
  261: 'SQLITE_BUSY_RECOVERY',
  517: 'SQLITE_BUSY_SNAPSHOT',
  773: 'SQLITE_BUSY_TIMEOUT',
  262: 'SQLITE_LOCKED_SHAREDCACHE',
  518: 'SQLITE_LOCKED_VTAB',
  264: 'SQLITE_READONLY_RECOVERY',
  520: 'SQLITE_READONLY_CANTLOCK',
  776: 'SQLITE_READONLY_ROLLBACK',
  1032: 'SQLITE_READONLY_DBMOVED',
  1288: 'SQLITE_READONLY_CANTINIT',
  1544: 'SQLITE_READONLY_DIRECTORY',
  270: 'SQLITE_CANTOPEN_NOTEMPDIR',
  526: 'SQLITE_CANTOPEN_ISDIR',
  782: 'SQLITE_CANTOPEN_FULLPATH',
  1038: 'SQLITE_CANTOPEN_CONVPATH',
  1550: 'SQLITE_CANTOPEN_SYMLINK',
  267: 'SQLITE_CORRUPT_VTAB',
  523: 'SQLITE_CORRUPT_SEQUENCE',
  779: 'SQLITE_CORRUPT_INDEX',
  516: 'SQLITE_ABORT_ROLLBACK',
  // constraints
  275: 'SQLITE_CONSTRAINT_CHECK',
  531: 'SQLITE_CONSTRAINT_COMMITHOOK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1043: 'SQLITE_CONSTRAINT_FUNCTION',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  1811: 'SQLITE_CONSTRAINT_TRIGGER',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
  2323: 'SQLITE_CONSTRAINT_VTAB',
  2579: 'SQLITE_CONSTRAINT_ROWID',
  2835: 'SQLITE_CONSTRAINT_PINNED',
  3091: 'SQLITE_CONSTRAINT_DATATYPE',
  // notices
  283: 'SQLITE_NOTICE_RECOVER_WAL',
  539: 'SQLITE_NOTICE_RECOVER_ROLLBACK',
  284: 'SQLITE_WARNING_AUTOINDEX',
};

/** The primary code of a (possibly extended) result code: its low byte. */
export function primaryCode(code: number): number {
  return code & 0xff;
}

/** The symbolic name of a result code, e.g. `SQLITE_IOERR_WRITE`; unknown extended codes get `SQLITE_IOERR (extended 1234)`. */
export function codeName(code: number): string {
  const known = EXTENDED_NAMES[code] ?? PRIMARY_NAMES[code];
  if (known) return known;
  const primary = PRIMARY_NAMES[primaryCode(code)];
  return primary ? `${primary} (extended ${code})` : `SQLite code ${code}`;
}

/** Flags of xOpen. */
export const SQLITE_OPEN_READONLY = 0x00000001;
export const SQLITE_OPEN_READWRITE = 0x00000002;
export const SQLITE_OPEN_CREATE = 0x00000004;
export const SQLITE_OPEN_DELETEONCLOSE = 0x00000008;
export const SQLITE_OPEN_MAIN_DB = 0x00000100;
export const SQLITE_OPEN_TEMP_DB = 0x00000200;
export const SQLITE_OPEN_TRANSIENT_DB = 0x00000400;
export const SQLITE_OPEN_MAIN_JOURNAL = 0x00000800;
export const SQLITE_OPEN_TEMP_JOURNAL = 0x00001000;
export const SQLITE_OPEN_SUBJOURNAL = 0x00002000;
export const SQLITE_OPEN_SUPER_JOURNAL = 0x00004000;
export const SQLITE_OPEN_WAL = 0x00080000;

/** Lock levels of xLock / xUnlock. */
export const SQLITE_LOCK_NONE = 0;
export const SQLITE_LOCK_SHARED = 1;
export const SQLITE_LOCK_RESERVED = 2;
export const SQLITE_LOCK_PENDING = 3;
export const SQLITE_LOCK_EXCLUSIVE = 4;

/** xAccess flags. */
export const SQLITE_ACCESS_EXISTS = 0;

/** Device characteristics (xDeviceCharacteristics). */
export const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x00001000;
export const SQLITE_IOCAP_BATCH_ATOMIC = 0x00004000;

/** File-control ops (xFileControl). */
export const SQLITE_FCNTL_PRAGMA = 14;
export const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
export const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
export const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;

/** Column datatypes. */
export const SQLITE_INTEGER = 1;
export const SQLITE_FLOAT = 2;
export const SQLITE_TEXT = 3;
export const SQLITE_BLOB = 4;
export const SQLITE_NULL = 5;
