import { BlockVfsError, isBlockVfsError, type ErrorKind } from '@blockvfs/core/store';

export const SOURCE = '@blockvfs/store-fs';

/** The `code` of a Node system error (`ENOENT`, `EEXIST`…), or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Worth retrying: the process or the machine ran short of something for a moment,
 * or a call was interrupted. Everything else the file system says is taken as
 * permanent: a full disk, a read-only mount or a permission problem does not go away
 * by retrying in a few milliseconds.
 */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN', 'EWOULDBLOCK', 'EINTR', 'ETIMEDOUT', 'ENOMEM', 'ESTALE']);

function kindOf(code: string | undefined): ErrorKind {
  if (code !== undefined && TRANSIENT.has(code)) return 'transient';
  if (code === 'ENAMETOOLONG') return 'invalid';
  return 'permanent';
}

/** Wraps a file-system error from `what` (e.g. `put "a/b"`) in a BlockVfsError, keeping it as `cause`. */
export function fsError(store: string, what: string, error: unknown): BlockVfsError {
  if (isBlockVfsError(error)) return error; // by its brand: also one from another copy of core
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new BlockVfsError(kindOf(code), `${what} failed: ${detail}`, { source: SOURCE, store, cause: error });
}

/**
 * Something about the folder that FsStore will not work with: a symbolic link inside the
 * root, a directory or special file where an object file should be, a folder written in
 * another format, a file system that does not keep fine file times. The store reports it as
 * `permanent`, with this message, which names the path.
 */
export class FolderError extends Error {
  override readonly name = 'FolderError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

export function invalid(store: string, message: string): BlockVfsError {
  return new BlockVfsError('invalid', message, { source: SOURCE, store });
}
