import { BlockVfsError } from '@blockvfs/core';
import { SqliteError } from '@blockvfs/vfs-wasqlite';
import type { GuaranteeId } from './guarantees.js';

/** Thrown by a simulated process's own code when it notices it was killed: it stops there. */
export class KilledError extends Error {
  override readonly name = 'KilledError';
}

/**
 * What an error thrown at a simulated process means:
 *
 * - `busy`: SQLITE_BUSY or precondition-failed: the commit (or the lock) was refused;
 *   the transaction was not applied.
 * - `transient`: a store failure the caller was told about (an I/O error whose cause is
 *   a transient store error): the outcome of a commit is unknown.
 * - `unexpected`: nothing in a correct system produces it under these faults: a finding
 *   (corruption, a missing object inside the grace period, a wrong argument, a crash of
 *   the code itself).
 */
export type ErrorClass = { kind: 'busy' | 'transient' | 'killed' } | { kind: 'unexpected'; guarantee: GuaranteeId };

const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof KilledError) return { kind: 'killed' };
  if (error instanceof SqliteError) {
    if (error.code === SQLITE_BUSY) return { kind: 'busy' };
    if (error.code === SQLITE_CORRUPT || error.code === SQLITE_NOTADB) return { kind: 'unexpected', guarantee: 'sqlite' };
    const cause = error.cause;
    if (cause instanceof BlockVfsError) return classifyStoreError(cause);
    return { kind: 'unexpected', guarantee: 'sqlite' };
  }
  if (error instanceof BlockVfsError) return classifyStoreError(error);
  return { kind: 'unexpected', guarantee: 'sqlite' };
}

function classifyStoreError(error: BlockVfsError): ErrorClass {
  switch (error.kind) {
    case 'transient':
      return { kind: 'transient' };
    case 'precondition-failed':
      return { kind: 'busy' };
    case 'permanent':
      return { kind: 'unexpected', guarantee: /missing|deleted|gone/.test(error.message) ? 'grace' : 'sqlite' };
    default:
      return { kind: 'unexpected', guarantee: 'sqlite' };
  }
}

/** A one-line description: class, SQLite code, store error kind, message. */
export function describeError(error: unknown): string {
  if (error instanceof SqliteError) {
    const cause = error.cause instanceof BlockVfsError ? ` [${error.cause.kind}]` : '';
    return `${error.codeName}${cause}: ${error.message}`;
  }
  if (error instanceof BlockVfsError) return `BlockVfsError ${error.kind}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}${error.stack ? ` @ ${error.stack.split('\n').slice(1, 3).join(' ').trim()}` : ''}`;
  return String(error);
}
