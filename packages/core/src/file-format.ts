import type { BlockStore } from './block-store.js';

/**
 * How one logical file's blocks live on a store: the seam between PagedFile (bytes
 * ↔ blocks) and an on-store layout. The direct layout overwrites block objects in
 * place; the atomic layout writes immutable blocks plus a commit record.
 * PagedFile buffers changes and hands them over in one `commit`.
 */
export interface FileFormat {
  readonly store: BlockStore;
  /** The file's name on the store (the prefix of its objects). */
  readonly name: string;
  readonly blockSize: number;
  /** The committed file size in bytes. */
  readonly size: number;
  /**
   * Which committed state the format shows: changes whenever `size` or any block's
   * committed bytes change other than by this file's own `commit` (a refresh that
   * picked up other writers' commits, a reload). PagedFile ties its copies of
   * committed blocks to it. Absent: only this file's commits change the state.
   */
  readonly version?: number;
  /**
   * Whether PagedFile may commit part of a transaction before SQLite syncs (to bound
   * memory). True for layouts where SQLite's own journal makes partial writes safe.
   */
  readonly flushesEarly: boolean;
  /** Block `index` as last committed, or undefined when absent (read as zeros). */
  readBlock(index: number): Promise<Uint8Array | undefined>;
  /**
   * Block `index` when it can be had without the store (held in memory or in a cache):
   * its bytes, which the caller must not change, or null when absent (zeros); undefined
   * when only `readBlock` can tell. Absent: the format has no such memory.
   */
  readBlockInMemory?(index: number): Uint8Array | null | undefined;
  /**
   * Makes the changed blocks and the new size durable. `blocks` holds whole-block
   * buffers (`blockSize` bytes); the format trims the last one to `size`. Blocks at
   * or past `size` are dropped. The buffers are lent for the call: once it settles,
   * the format keeps none of them and no request of its reads them (a timed-out
   * attempt may still be sending after its retry succeeded), so the caller may change
   * them; a format copies what it keeps or hands to the store.
   */
  commit(change: FileChange): Promise<void>;
  /**
   * Picks up changes other writers committed since this format was opened or last
   * refreshed (layouts that have versions: the atomic one). Resolves to whether
   * anything changed. Absent: the format cannot see other writers' commits.
   */
  refresh?(): Promise<boolean>;
  /** Whether `refresh()` would ask the store now (false: it would resolve to false at once). */
  refreshNeeded?(): boolean;
  /** Writes whatever makes the next open cheap (the atomic layout's checkpoint). Absent: nothing to do. */
  checkpoint?(): Promise<void>;
  /**
   * Called before a transaction writes (the atomic layout takes or renews its writer
   * lease here, and rejects with `precondition-failed` when another writer holds it).
   */
  beginWrite?(): Promise<void>;
  /** Whether `beginWrite()` has work to do now (a lease to take or renew, an error to raise). */
  beginWriteNeeded?(): boolean;
  /**
   * Uploads whole blocks of the coming commit ahead of it, so that they need not stay
   * in memory; `readBlock` returns them from then on, and `commit` includes them.
   * Layouts where nothing is visible before the commit (atomic) have it.
   */
  stage?(blocks: ReadonlyMap<number, Uint8Array>): Promise<void>;
  /** Forgets the commit being prepared: the staged blocks are not part of any commit. */
  discard?(): void;
  /** Releases what the format holds on the store (the atomic layout's writer lease). */
  close?(): Promise<void>;
}

export interface FileChange {
  size: number;
  blocks: ReadonlyMap<number, Uint8Array>;
}

/** The number of blocks a file of `size` bytes occupies. */
export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** The stored length of block `index` in a file of `size` bytes (0 past the end). */
export function blockLength(index: number, size: number, blockSize: number): number {
  return Math.max(0, Math.min(blockSize, size - index * blockSize));
}
