// Why a setting is refused, in one place for the VFS (which refuses it) and the
// Database API (which recognises the refusal and passes it on as it is).

/** Why WAL is refused. */
export const WAL_UNSUPPORTED =
  'journal_mode=WAL is not available on an object store: WAL needs memory shared by every connection and process ' +
  'using the database (the -shm file), which object stores cannot provide. Use a rollback journal mode instead: ' +
  'DELETE (the default), TRUNCATE, PERSIST, MEMORY or OFF.';

/** Why synchronous=OFF is refused in the atomic layout. */
export const SYNCHRONOUS_OFF_UNSUPPORTED =
  'synchronous=OFF is not available in the atomic layout: a commit reaches the store when SQLite syncs the database, ' +
  'and with synchronous=OFF it never does, so committed transactions would stay in memory until close. ' +
  'A commit costs the same requests either way; use synchronous=NORMAL or FULL.';
