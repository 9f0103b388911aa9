import { createHash } from 'node:crypto';
import { BlockVfsError } from '@blockvfs/core';
import type { ListEntry, PutCondition } from '@blockvfs/core/store';

/**
 * The simulated bucket: every object of a run, shared by all the simulated processes'
 * store objects. Its operations are the instants at which requests take effect (their
 * linearisation points); SimStore decides when that is and when, or whether, the caller
 * hears back. Semantics are MemoryStore's (packages/store-memory): conditions checked and
 * applied in one step, lexicographic listing, copies in and out.
 *
 * Etags come in two styles, both seen in real stores: `content` (an MD5 of the bytes, as
 * S3 and MemoryStore: rewriting the same bytes gives the same etag again) and `version`
 * (a new tag per write, as GCS generations and Azure: never repeats).
 */

export type EtagStyle = 'content' | 'version';

interface StoredObject {
  data: Uint8Array;
  etag: string;
}

/** Watches every change the moment it takes effect (the format monitor, the trace). */
export interface ObjectObserver {
  /** After a put took effect; `before` is the object it replaced; `issuedAt` when its request was sent (virtual time), when known. */
  put(key: string, data: Uint8Array, condition: PutCondition | undefined, before: Uint8Array | undefined, issuedAt?: number): void;
  /** After a delete took effect on a key that existed. */
  deleted(key: string, before: Uint8Array): void;
}

const SOURCE = '@blockvfs/simulation';

export class SimObjects {
  readonly #objects = new Map<string, StoredObject>();
  /** Every key, sorted: listings are paged, so they are asked for "keys after X" often. */
  readonly #sorted: string[] = [];
  /** The bytes each key held before its latest write (for the stale-read mutation). */
  readonly #previous = new Map<string, Uint8Array | undefined>();
  readonly #etags: EtagStyle;
  #writes = 0;
  readonly observers: ObjectObserver[] = [];

  constructor(etags: EtagStyle = 'content') {
    this.#etags = etags;
  }

  get size(): number {
    return this.#objects.size;
  }

  has(key: string): boolean {
    return this.#objects.has(key);
  }

  /** The stored bytes (not a copy: for observers and checks, which must not change them). */
  peek(key: string): Uint8Array | undefined {
    return this.#objects.get(key)?.data;
  }

  /** What the key held before its latest write (undefined: it did not exist). */
  previous(key: string): Uint8Array | undefined {
    return this.#previous.get(key);
  }

  get(key: string, range?: { offset: number; length?: number }): Uint8Array | undefined {
    const object = this.#objects.get(key);
    if (!object) return undefined;
    if (!range) return object.data.slice();
    const end = range.length === undefined ? object.data.length : range.offset + range.length;
    return object.data.slice(range.offset, end);
  }

  /** Applies a put; rejects (throws) a failed condition with `precondition-failed`, as every store must. */
  put(key: string, data: Uint8Array, condition: PutCondition | undefined, storeName: string, issuedAt?: number): { etag: string } {
    const current = this.#objects.get(key);
    if (condition && 'ifNoneMatch' in condition && current) {
      throw new BlockVfsError('precondition-failed', `"${key}" already exists`, { source: SOURCE, store: storeName });
    }
    if (condition && 'ifMatch' in condition && current?.etag !== condition.ifMatch) {
      const why = current ? `its etag is ${current.etag}, not ${condition.ifMatch}` : 'it does not exist';
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: ${why}`, { source: SOURCE, store: storeName });
    }
    return this.write(key, data, condition, issuedAt);
  }

  /** Writes whatever the key holds (also used by the mutations that break the condition on purpose). */
  write(key: string, data: Uint8Array, condition?: PutCondition, issuedAt?: number): { etag: string } {
    const current = this.#objects.get(key);
    this.#writes += 1;
    const etag = this.#etags === 'content' ? createHash('md5').update(data).digest('hex') : `v${this.#writes}`;
    this.#previous.set(key, current?.data);
    this.#objects.set(key, { data, etag });
    if (!current) this.#sorted.splice(this.#lowerBound(key), 0, key);
    for (const observer of this.observers) observer.put(key, data, condition, current?.data, issuedAt);
    return { etag };
  }

  delete(key: string): void {
    const current = this.#objects.get(key);
    if (!current) return;
    this.#objects.delete(key);
    this.#previous.set(key, current.data);
    this.#sorted.splice(this.#lowerBound(key), 1);
    for (const observer of this.observers) observer.deleted(key, current.data);
  }

  /** Up to `limit` entries under `prefix` after `startAfter`, in key order: one page of a listing. */
  listPage(prefix: string, startAfter: string | undefined, limit: number): ListEntry[] {
    const from = startAfter !== undefined && startAfter >= prefix ? this.#upperBound(startAfter) : this.#lowerBound(prefix);
    const page: ListEntry[] = [];
    for (let i = from; i < this.#sorted.length && page.length < limit; i++) {
      const key = this.#sorted[i] as string;
      if (!key.startsWith(prefix)) break;
      const object = this.#objects.get(key) as StoredObject;
      page.push({ key, size: object.data.length, etag: object.etag });
    }
    return page;
  }

  /** Every key under `prefix`, sorted (for checks). */
  keys(prefix = ''): string[] {
    return this.#sorted.filter((key) => key.startsWith(prefix));
  }

  /** First index whose key is >= `key`. */
  #lowerBound(key: string): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.#sorted[middle] as string) < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** First index whose key is > `key`. */
  #upperBound(key: string): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.#sorted[middle] as string) <= key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
