import type { BlockStore } from '../block-store.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { listedEtag } from './history.js';
import { atomicLeaseKey, decodeLease, encodeLease, randomTag } from './objects.js';

const SOURCE = '@blockvfs/core';

export interface LeaseOptions {
  /** How long a lease lasts from its last renewal, in ms (default 30 s). It is renewed when less than half is left. */
  ttl?: number;
}

export const DEFAULT_LEASE_TTL = 30_000;

/**
 * A writer lease on one file of the atomic layout: the object `<name>/lease`, taken
 * with create-if-absent (or, once expired, replaced with ifMatch), renewed with
 * ifMatch. While a writer holds it, other writers that use leases fail fast with
 * `precondition-failed` (SQLITE_BUSY) instead of losing at commit time, and the
 * holder may skip looking for other writers' commits.
 *
 * The lease is a courtesy, never the safety: a commit is still a create-if-absent
 * commit record, so a writer whose lease expired and was taken over loses there.
 * A holder does not commit on an expired lease: it renews first, and if someone
 * took the lease meanwhile, the commit is refused.
 */
export class WriterLease {
  readonly owner = randomTag();
  readonly ttl: number;
  readonly #store: BlockStore;
  readonly #name: string;
  /** The etag of our lease object, while we hold it. */
  #etag: string | undefined;
  #expires = 0;
  /** When the current holding began (our clock). */
  #since = 0;

  constructor(store: BlockStore, name: string, options: LeaseOptions = {}) {
    const ttl = options.ttl ?? DEFAULT_LEASE_TTL;
    if (!Number.isSafeInteger(ttl) || ttl < 1000) {
      throw new BlockVfsError('invalid', `lease ttl must be an integer of at least 1000 ms, got ${ttl}`, { source: SOURCE, store: store.name });
    }
    if (!store.capabilities.conditionalPut) {
      throw new BlockVfsError('invalid', `a writer lease needs a store with conditional puts, and this one has none`, { source: SOURCE, store: store.name });
    }
    this.ttl = ttl;
    this.#store = store;
    this.#name = name;
  }

  get key(): string {
    return atomicLeaseKey(this.#name);
  }

  /** Whether we hold an unexpired lease (by our clock). */
  get held(): boolean {
    return this.#etag !== undefined && Date.now() < this.#expires;
  }

  /** When the current holding began, or undefined when we hold none. */
  get heldSince(): number | undefined {
    return this.held ? this.#since : undefined;
  }

  /** Whether `ensure()` would return at once: we hold the lease with more than half its ttl left. */
  get current(): boolean {
    return this.#etag !== undefined && this.#expires - Date.now() > this.ttl / 2;
  }

  /**
   * Makes sure we hold the lease with at least half its ttl left: renews it, or takes
   * it. Rejects with `precondition-failed` when another writer holds it (or took it
   * from us after it expired).
   */
  async ensure(): Promise<void> {
    if (this.current) return;
    const now = Date.now();
    if (this.#etag !== undefined) {
      try {
        await this.#put({ ifMatch: this.#etag }, now);
        return;
      } catch (error) {
        const etag = this.#etag;
        this.#etag = undefined;
        if (!isBlockVfsError(error, 'precondition-failed')) {
          this.#etag = etag; // unknown outcome: keep trying with it; the expiry still bounds our claim
          throw error;
        }
        // Someone replaced it: it expired and was taken. Try to take it back below (fails if theirs is valid).
      }
    }
    await this.#acquire(now);
  }

  /** Gives the lease up (best effort): others may take it at once instead of waiting for it to expire. */
  async release(): Promise<void> {
    const etag = this.#etag;
    this.#etag = undefined;
    if (etag === undefined) return;
    await this.#store.put(this.key, encodeLease({ owner: this.owner, expires: 0 }), { ifMatch: etag }).catch(() => undefined);
  }

  async #acquire(now: number): Promise<void> {
    try {
      await this.#put({ ifNoneMatch: '*' }, now);
      this.#since = now;
      return;
    } catch (error) {
      if (!isBlockVfsError(error, 'precondition-failed')) throw error;
    }
    // There is a lease object: the etag first (from a listing), then its bytes, never older than that etag.
    const etag = await listedEtag(this.#store, this.key);
    const bytes = await this.#store.get(this.key);
    if (bytes === undefined || etag === undefined) throw this.#busy('its lease object changed while being read');
    const current = decodeLease(bytes, this.key, this.#store.name);
    if (current.owner !== this.owner && current.expires > now) {
      throw this.#busy(`another writer holds its lease until ${new Date(current.expires).toISOString()}`);
    }
    try {
      await this.#put({ ifMatch: etag }, now);
      this.#since = now;
    } catch (error) {
      if (isBlockVfsError(error, 'precondition-failed')) throw this.#busy('another writer took its expired lease first');
      throw error;
    }
  }

  async #put(condition: { ifNoneMatch: '*' } | { ifMatch: string }, now: number): Promise<void> {
    const expires = now + this.ttl;
    const { etag } = await this.#store.put(this.key, encodeLease({ owner: this.owner, expires }), condition);
    this.#etag = etag;
    this.#expires = expires;
  }

  #busy(why: string): BlockVfsError {
    return new BlockVfsError('precondition-failed', `"${this.#name}" is busy: ${why}`, { source: SOURCE, store: this.#store.name });
  }
}
