import { forEachLimit } from '../concurrency.js';
import type { BlockEntry } from './history.js';

/** Parallel segment fetches when a whole map is needed (a checkpoint, a collection). */
const PARALLEL_REQUESTS = 16;

/**
 * Where a map's blocks come from until they are needed: the segments of a segmented
 * checkpoint (objects.ts), each loaded on first use. `load` gets the seq of the state
 * asking, so that a segment gone with its checkpoint (collected while a long-lived view
 * still stood on it) can be read from a newer checkpoint at or before that state.
 */
export interface MapBase {
  /** Blocks per segment: segment k holds blocks k·segmentBlocks … (k+1)·segmentBlocks − 1. */
  readonly segmentBlocks: number;
  /** The entries the checkpoint has for segment `segment`'s blocks (none outside it). */
  load(segment: number, atMost: number): Promise<ReadonlyMap<number, BlockEntry>>;
}

/**
 * A file's block map (block index → where its current version is): the entries of its
 * checkpoint, with the commits after it applied on top. The checkpoint's part may be
 * loaded a segment at a time, when a block in it is first looked up (`load`), so that
 * opening a large file reads a few KiB of map, not all of it.
 *
 * Looking up a block whose segment is not loaded yet is a bug, not an absent block
 * (which would read as zeros): `get` throws then. A segment loaded after commits were
 * applied fills only what they did not set, and nothing at or past the smallest size
 * they shrank the file to (`truncate`): every commit's change wins over the
 * checkpoint, wherever the checkpoint's part arrives from.
 */
export class BlockMap {
  readonly #entries: Map<number, BlockEntry>;
  readonly #base: MapBase | undefined;
  /** Segments of `#base` not loaded yet. */
  readonly #pending: Set<number>;
  /** Block count the file shrank to since the checkpoint, at the smallest: its entries from there on are gone. */
  #limit: number;
  /** Segment loads in flight, each with the seq of the state it may fall back to (see MapBase.load). */
  readonly #loading = new Map<number, { atMost: number; promise: Promise<void> }>();

  private constructor(entries: Map<number, BlockEntry>, base: MapBase | undefined, pending: Set<number>, limit: number) {
    this.#entries = entries;
    this.#base = base;
    this.#pending = pending;
    this.#limit = limit;
  }

  /** A map with every entry in memory. */
  static of(entries: Iterable<readonly [number, BlockEntry]> = []): BlockMap {
    return new BlockMap(new Map(entries), undefined, new Set(), Number.POSITIVE_INFINITY);
  }

  /**
   * A map whose entries are in `segments` segments of `base`, none loaded yet, but for
   * `known`: entries the checkpoint holds outside its segments too (its hot blocks), the
   * same as their segments hold, known before them.
   */
  static lazy(base: MapBase, segments: number, known: Iterable<readonly [number, BlockEntry]> = []): BlockMap {
    return new BlockMap(new Map(known), base, new Set(Array.from({ length: segments }, (_, k) => k)), Number.POSITIVE_INFINITY);
  }

  /** An independent copy (segments still to load are loaded by each copy for itself). */
  copy(): BlockMap {
    return new BlockMap(new Map(this.#entries), this.#base, new Set(this.#pending), this.#limit);
  }

  /** Whether block `index`'s entry (or its absence) is known without loading anything. */
  known(index: number): boolean {
    return this.#pending.size === 0 || this.#entries.has(index) || index >= this.#limit || !this.#pending.has(this.#segmentOf(index));
  }

  /** Block `index`'s entry, or undefined when the file has none (a block never written: zeros). */
  get(index: number): BlockEntry | undefined {
    if (!this.known(index)) throw new Error(`internal error: block ${index} looked up before its checkpoint segment was loaded`);
    return this.#entries.get(index);
  }

  set(index: number, entry: BlockEntry): void {
    this.#entries.set(index, entry);
  }

  /** Drops every entry at or past block `count` (the file shrank to `count` blocks). */
  truncate(count: number): void {
    for (const index of [...this.#entries.keys()]) if (index >= count) this.#entries.delete(index);
    if (this.#pending.size > 0) this.#limit = Math.min(this.#limit, count);
  }

  /** Loads the segment that holds block `index`, unless known already. `atMost`: the seq of the state this map is of. */
  async load(index: number, atMost: number): Promise<void> {
    if (!this.known(index)) await this.#loadSegment(this.#segmentOf(index), atMost);
  }

  /** Loads every segment not loaded yet. */
  async loadAll(atMost: number): Promise<void> {
    await forEachLimit([...this.#pending], PARALLEL_REQUESTS, (segment) => this.#loadSegment(segment, atMost));
  }

  /** Every entry, ascending by index; the map must be complete. */
  entries(): Array<[number, BlockEntry]> {
    this.#mustBeComplete();
    return [...this.#entries].sort(([a], [b]) => a - b);
  }

  #segmentOf(index: number): number {
    return Math.floor(index / (this.#base as MapBase).segmentBlocks);
  }

  #mustBeComplete(): void {
    if (this.#pending.size > 0) throw new Error(`internal error: a block map used whole with ${this.#pending.size} checkpoint segments not loaded`);
  }

  #loadSegment(segment: number, atMost: number): Promise<void> {
    const inFlight = this.#loading.get(segment);
    if (inFlight) {
      if (inFlight.atMost >= atMost) return inFlight.promise;
      // A load for an older commit (the open's prefetch, before the catch-up) cannot fall back as far
      // as this one may (a segment collected meanwhile): on its failure, this one tries for itself.
      return inFlight.promise.catch(() => this.#loadSegment(segment, atMost));
    }
    const loading = {
      atMost,
      promise: (async () => {
        const entries = await (this.#base as MapBase).load(segment, atMost);
        if (!this.#pending.has(segment)) return;
        // No await from here on: the merge sees the map as the commits applied meanwhile left it.
        for (const [index, entry] of entries) if (index < this.#limit && !this.#entries.has(index)) this.#entries.set(index, entry);
        this.#pending.delete(segment);
      })().finally(() => {
        if (this.#loading.get(segment) === loading) this.#loading.delete(segment);
      }),
    };
    this.#loading.set(segment, loading);
    return loading.promise;
  }
}
