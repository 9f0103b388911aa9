import type { BlockStore } from '../block-store.js';
import { systemClock, type Clock } from '../clock.js';
import { storeProblem } from '../argument-checks.js';
import { BlockVfsError, isBlockVfsError } from '../errors.js';
import { listedEtag } from './history.js';
import { atomicLeaseKey, decodeLease, encodeLease, randomTag, type LeaseRecord } from './objects.js';

const SOURCE = '@blockvfs/core';

export interface LeaseOptions {
  /** How long a lease lasts from its last renewal, in ms (default 30 s, at most MAX_LEASE_TTL_MS). It is renewed when less than half is left. */
  ttlMs?: number;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;
export const MIN_LEASE_TTL_MS = 1000;
/** The longest ttl a holder may ask for: a dead holder blocks other lease writers for at most this long. */
export const MAX_LEASE_TTL_MS = 10 * 60_000;
/**
 * How far past our clock a lease's expiry may lie and still be honoured: MAX_LEASE_TTL_MS
 * plus a minute of clock skew between machines. A lease further in the future was not
 * written by a holder that kept to the ttl bound (a bug, a hand edit, a clock years
 * off), so it is void and may be taken over: otherwise it would block every lease
 * writer until that date. (The lease is a courtesy: commit records keep writers apart.)
 */
export const LEASE_VOID_BEYOND = MAX_LEASE_TTL_MS + 60_000;

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
  readonly ttlMs: number;
  readonly #store: BlockStore;
  readonly #name: string;
  /** The etag of our lease object, while we hold it. */
  #etag: string | undefined;
  #expires = 0;
  /** When the current holding began (our clock). */
  #since = 0;

  readonly #clock: Clock;

  constructor(store: BlockStore, name: string, options: LeaseOptions = {}, clock: Clock = systemClock) {
    const ttl = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isSafeInteger(ttl) || ttl < MIN_LEASE_TTL_MS || ttl > MAX_LEASE_TTL_MS) {
      throw new BlockVfsError('invalid', `lease ttlMs must be an integer of ${MIN_LEASE_TTL_MS} to ${MAX_LEASE_TTL_MS} ms, got ${ttl}`, {
        source: SOURCE,
        store: store.name,
      });
    }
    if (!store.capabilities.conditionalPut) {
      throw new BlockVfsError('invalid', `a writer lease needs a store with conditional puts, and this one has none`, { source: SOURCE, store: store.name });
    }
    this.ttlMs = ttl;
    this.#store = store;
    this.#name = name;
    this.#clock = clock;
  }

  get key(): string {
    return atomicLeaseKey(this.#name);
  }

  /** Whether we hold an unexpired lease (by our clock). */
  get held(): boolean {
    return this.#etag !== undefined && this.#clock.now() < this.#expires;
  }

  /** When the current holding began, or undefined when we hold none. */
  get heldSince(): number | undefined {
    return this.held ? this.#since : undefined;
  }

  /** Whether `ensure()` would return at once: we hold the lease with more than half its ttl left. */
  get current(): boolean {
    return this.#etag !== undefined && this.#expires - this.#clock.now() > this.ttlMs / 2;
  }

  /**
   * Makes sure we hold the lease with at least half its ttl left: renews it, or takes
   * it. Rejects with `precondition-failed` when another writer holds it (or took it
   * from us after it expired).
   */
  async ensure(): Promise<void> {
    if (this.current) return;
    const now = this.#clock.now();
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
    let found: Awaited<ReturnType<typeof readLease>>;
    try {
      found = await readLease(this.#store, this.#name);
    } catch (error) {
      if (!isBlockVfsError(error, 'permanent')) throw error;
      throw new BlockVfsError('permanent', `${error.message}; breakLease() replaces it`, { source: SOURCE, store: this.#store.name, cause: error });
    }
    if (found === undefined) throw this.#busy('its lease object changed while being read');
    const { lease: current, etag } = found;
    if (current.owner !== this.owner && leaseLive(current, now)) {
      throw this.#busy(`another writer holds its lease until ${timeText(current.expires)} (if that writer is gone for good, breakLease() frees it now)`);
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
    const expires = now + this.ttlMs;
    const { etag } = await this.#store.put(this.key, encodeLease({ owner: this.owner, expires }), condition);
    this.#etag = etag;
    this.#expires = expires;
  }

  #busy(why: string): BlockVfsError {
    return new BlockVfsError('precondition-failed', `"${this.#name}" is busy: ${why}`, { source: SOURCE, store: this.#store.name });
  }
}

/** The lease object with the etag a conditional replacement needs (from a listing, then the bytes), or undefined when there is none. */
async function readLease(store: BlockStore, name: string): Promise<{ lease: LeaseRecord; etag: string } | undefined> {
  const found = await readLeaseObject(store, name);
  return found && { lease: decodeLease(found.bytes, atomicLeaseKey(name), store.name), etag: found.etag };
}

/** The lease object's bytes with the etag a conditional replacement needs: the etag from a listing first, then the bytes, never older. */
async function readLeaseObject(store: BlockStore, name: string): Promise<{ bytes: Uint8Array; etag: string } | undefined> {
  const key = atomicLeaseKey(name);
  const etag = await listedEtag(store, key);
  const bytes = await store.get(key);
  return bytes === undefined || etag === undefined ? undefined : { bytes, etag };
}

/** Whether `lease` binds other writers at `now`: unexpired, and not void (see LEASE_VOID_BEYOND). */
function leaseLive(lease: LeaseRecord, now: number): boolean {
  return lease.expires > now && lease.expires - now <= LEASE_VOID_BEYOND;
}

/** An expiry for messages: ISO time when it is one, else the raw number. */
function timeText(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms after the epoch`;
}

/**
 * Whether writers of database `name` use the writer lease (its object exists: taken, or
 * released). A maintenance writer (an import, a restore) then takes it too, so that it
 * never commits under a holder who trusts its view; on a database whose writers never
 * used one it leaves none behind. False on a store without conditional puts, which
 * cannot hold a lease.
 */
export async function writersUseLease(store: BlockStore, name: string): Promise<boolean> {
  return store.capabilities.conditionalPut && (await store.get(atomicLeaseKey(name))) !== undefined;
}

export interface BreakLeaseOptions {
  store: BlockStore;
  /** The database's name on the store. */
  name: string;
}

/**
 * Frees the writer lease of database `name` (atomic layout) now, whoever holds it:
 * for a holder that died with a long ttl left, or a lease object that is damaged (it
 * cannot be read, so no writer could take it over). Returns the lease it broke
 * (undefined when there was none, it was already released, or it was unreadable).
 *
 * Safe for the data whatever the holder does (commit records, not the lease, keep
 * writers apart), but a holder that is still alive keeps trusting its view for up to
 * half its ttl and then takes the lease back at its next write: break only the lease
 * of a process known to be gone.
 */
export async function breakLease(options: BreakLeaseOptions): Promise<LeaseRecord | undefined> {
  const { store, name } = options ?? ({} as BreakLeaseOptions);
  const storeIssue = storeProblem(store);
  if (storeIssue) throw new BlockVfsError('invalid', `breakLease needs a BlockStore as "store": ${storeIssue}`, { source: SOURCE });
  if (typeof name !== 'string' || name.length === 0)
    throw new BlockVfsError('invalid', '"name" must be a non-empty string', { source: SOURCE, store: store.name });
  for (let attempt = 0; attempt < 8; attempt++) {
    const found = await readLeaseObject(store, name);
    if (found === undefined) return undefined;
    let lease: LeaseRecord | undefined;
    try {
      lease = decodeLease(found.bytes, atomicLeaseKey(name), store.name);
    } catch {
      lease = undefined; // damaged: replaced all the same
    }
    if (lease?.expires === 0) return undefined;
    try {
      await store.put(atomicLeaseKey(name), encodeLease({ owner: `broken-${randomTag()}`, expires: 0 }), { ifMatch: found.etag });
      return lease;
    } catch (error) {
      if (!isBlockVfsError(error, 'precondition-failed')) throw error;
    }
  }
  throw new BlockVfsError('transient', `the lease of "${name}" kept changing while being broken; try again`, { source: SOURCE, store: store.name });
}
