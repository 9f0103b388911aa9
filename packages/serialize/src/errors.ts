import { BlockVfsError, type ErrorKind } from '@blockvfs/core';

export const SOURCE = '@blockvfs/serialize';

/** A BlockVfsError raised by this package, naming the store when one is involved. */
export function serializeError(kind: ErrorKind, message: string, store?: string, cause?: unknown): BlockVfsError {
  return new BlockVfsError(kind, message, {
    source: SOURCE,
    ...(store === undefined ? {} : { store }),
    ...(cause === undefined ? {} : { cause }),
  });
}
