import { isBlockVfsError } from '@blockvfs/core';
import type { VfsLease } from './runtime.js';
import { codeName } from './sqlite-codes.js';
import { SqliteError } from './sqlite-error.js';
import { SYNCHRONOUS_OFF_UNSUPPORTED, WAL_UNSUPPORTED } from './vfs/refusals.js';
import { waSqliteErrorCode } from './wa-sqlite-adapter.js';

/**
 * Turns what the wa-sqlite API threw into the error the caller sees: an SqliteError
 * whose message and cause carry the store failure that caused it, or the VFS's own
 * BlockVfsError when it explains the failure fully (WAL refused, database missing).
 */
export function toError(error: unknown, lease: VfsLease): Error {
  const cause = lease.vfs.takeLastError();
  const code = waSqliteErrorCode(error);
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  if (isBlockVfsError(cause, 'not-found')) return cause;
  if (isBlockVfsError(cause, 'invalid') && (cause.message.includes(WAL_UNSUPPORTED) || cause.message.includes(SYNCHRONOUS_OFF_UNSUPPORTED))) return cause;
  let message = `${(error as Error).message} (${codeName(code)})`;
  if (cause !== undefined) message += `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new SqliteError(message, code, cause === undefined ? undefined : { cause });
}
