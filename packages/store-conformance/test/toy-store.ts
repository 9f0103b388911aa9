import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BlockVfsError, type BlockStore } from '@blockvfs/core';
import type { ByteRange, ListEntry, ListOptions, PutCondition, PutResult } from '@blockvfs/core/store';

/**
 * Bugs a store author could plausibly ship, each switched on by one flag: the
 * self-test runs the suite on a store with one bug at a time and expects the case
 * that targets it to fail. With no flag set the store is correct.
 */
export interface ToyBugs {
  /** Awaits between checking a condition and writing: two racers can both pass the check. */
  racyConditions?: boolean;
  /** Lists in insertion order. */
  unsortedList?: boolean;
  /** Ignores `startAfter`. */
  ignoreStartAfter?: boolean;
  /** Keeps the caller's buffer and hands out its own: mutations leak both ways. */
  sharedBuffers?: boolean;
  /** A range starting at or past the end gives undefined instead of an empty array. */
  rangePastEndUndefined?: boolean;
  /** Overwrites an object of the same size in place, half at a time. */
  tornWrites?: boolean;
  /** Fails a precondition with a plain Error. */
  plainErrors?: boolean;
  /** Throws when deleting a key that does not exist. */
  deleteMissingThrows?: boolean;
  /** Returns undefined for an empty object. */
  emptyIsMissing?: boolean;
  /** Lists a different etag than put returned. */
  listEtagDiffers?: boolean;
  /** Declares conditionalPut false, and then silently ignores conditions. */
  ignoresConditions?: boolean;
}

const SOURCE = 'toy-store';

export class ToyStore implements BlockStore {
  readonly name = 'toy';
  readonly capabilities;
  readonly #objects = new Map<string, { data: Uint8Array; etag: string }>();
  readonly #bugs: ToyBugs;

  constructor(bugs: ToyBugs = {}) {
    this.#bugs = bugs;
    this.capabilities = { conditionalPut: !bugs.ignoresConditions, rangeGet: true, maxDeleteBatch: 1000 };
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    this.#checkKey(key);
    const object = this.#objects.get(key);
    if (!object) return undefined;
    if (this.#bugs.emptyIsMissing && object.data.length === 0) return undefined;
    const copy = (bytes: Uint8Array) => (this.#bugs.sharedBuffers ? bytes : bytes.slice());
    if (!range) return copy(object.data);
    const valid =
      Number.isSafeInteger(range.offset) && range.offset >= 0 && (range.length === undefined || (Number.isSafeInteger(range.length) && range.length >= 0));
    if (!valid) throw new BlockVfsError('invalid', 'bad range', { source: SOURCE, store: this.name });
    if (this.#bugs.rangePastEndUndefined && range.offset >= object.data.length) return undefined;
    const end = range.length === undefined ? undefined : range.offset + range.length;
    return copy(object.data.subarray(range.offset, end));
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    this.#checkKey(key);
    const etag = createHash('sha1').update(data).digest('hex');
    const current = this.#objects.get(key);
    if (condition && !this.#bugs.ignoresConditions) {
      const ok = 'ifNoneMatch' in condition ? !current : current?.etag === condition.ifMatch;
      if (!ok) {
        if (this.#bugs.plainErrors) throw new Error('precondition failed');
        throw new BlockVfsError('precondition-failed', `"${key}": condition not met`, { source: SOURCE, store: this.name });
      }
      if (this.#bugs.racyConditions) await nextTurn();
    }
    if (this.#bugs.tornWrites && current && current.data.length === data.length) {
      const half = data.length >> 1;
      current.data.set(data.subarray(0, half));
      await nextTurn();
      current.data.set(data.subarray(half), half);
      current.etag = etag;
      return { etag };
    }
    this.#objects.set(key, { data: this.#bugs.sharedBuffers ? data : data.slice(), etag });
    return { etag };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.#checkKey(key);
      if (this.#bugs.deleteMissingThrows && !this.#objects.has(key)) throw new BlockVfsError('not-found', key, { source: SOURCE, store: this.name });
      this.#objects.delete(key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    let keys = [...this.#objects.keys()].filter((key) => key.startsWith(prefix));
    if (!this.#bugs.ignoreStartAfter && options.startAfter !== undefined) keys = keys.filter((key) => key > (options.startAfter as string));
    if (!this.#bugs.unsortedList) keys.sort();
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object) yield { key, size: object.data.length, etag: this.#bugs.listEtagDiffers ? `W/${object.etag}` : object.etag };
    }
  }

  #checkKey(key: string): void {
    if (key === '') throw new BlockVfsError('invalid', 'empty key', { source: SOURCE, store: this.name });
  }
}
