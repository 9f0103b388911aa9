/**
 * The one interface a storage backend implements. Small, async, byte-oriented,
 * named by keys. A store knows nothing of SQLite: it moves opaque objects.
 */

/** A byte range of an object: `length` bytes from `offset` (to the end when `length` is omitted). */
export interface ByteRange {
  offset: number;
  length?: number;
}

/**
 * A condition on a put. `ifNoneMatch: '*'` creates the object only if no object has
 * the key (create-if-absent); `ifMatch` replaces it only if its current etag is the
 * one given (replace-if-unchanged). A failed condition rejects with a
 * `BlockVfsError` of kind `precondition-failed`, never overwrites silently.
 */
export type PutCondition = { ifNoneMatch: '*' } | { ifMatch: string };

export interface PutResult {
  /** Opaque version tag of the object just written; pass it to `ifMatch`. */
  etag: string;
}

export interface ListEntry {
  key: string;
  size: number;
  etag?: string;
}

export interface ListOptions {
  /** Only keys strictly greater than this one (lexicographic, by UTF-16 code unit). */
  startAfter?: string;
}

/** What a store can do, so that callers adapt or refuse with a clear message. */
export interface StoreCapabilities {
  /** `put` honours both `ifNoneMatch: '*'` and `ifMatch`, atomically against concurrent writers. */
  conditionalPut: boolean;
  /** `get` with a range reads only those bytes from the backend. */
  rangeGet: boolean;
  /** The largest number of keys one backend delete request takes (`delete` splits larger calls itself). */
  maxDeleteBatch: number;
}

export interface BlockStore {
  /** A short human name used in error messages, e.g. `memory` or `fs:/var/db`. */
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /**
   * The object's bytes, or `undefined` when no object has the key (not an error).
   * A range is clipped to the object: a range starting at or past its end gives
   * an empty array.
   */
  get(key: string, range?: ByteRange): Promise<Uint8Array | undefined>;
  /** Writes the whole object, atomically: a reader sees the old bytes or the new ones, never a mix. */
  put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult>;
  /** Deletes every key given; keys that do not exist are fine. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every object whose key starts with `prefix`, in lexicographic key order, paginating internally. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry>;
}
