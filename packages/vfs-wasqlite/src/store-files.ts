import { DEFAULT_BLOCK_CACHE_BYTES, withCache, type AtomicOptions, type BlockStore, type CachedStore, type Layout } from '@blockvfs/core';
import { DirectFormat, openPagedFile, type PagedFile } from '@blockvfs/core/format';
import { FileLock } from './lock-table.js';

/**
 * What a process (direct layout) or a connection (atomic layout) knows about the files it
 * uses on one store: which are open (one PagedFile per file), their sizes, SQLite's locks
 * on them. The atomic layout's block caches are the process's, per store (`blockCache`),
 * so that a new connection starts warm.
 *
 * Direct layout: one StoreFiles per store object for the whole process (`storeFiles`):
 * its connections share each file's PagedFile, as an operating system shares its page
 * cache, and SQLite's locks between them, which is what keeps its one writer apart from
 * its readers. Atomic layout: one per connection, so that each connection has its own view
 * of the database, exactly as between two processes: a reader keeps its snapshot while
 * another connection commits, and two writers race at the commit record.
 *
 * Direct layout: knowing the journal's size lets the VFS answer "is there a hot
 * journal?" (asked at the start of every transaction) and delete the journal (at the
 * end of every transaction in DELETE mode) without listing the store. That knowledge
 * is only valid while this process is the single writer of the database, which the
 * direct layout requires anyway. It starts empty (unknown) for every store object, and
 * any failed request on a file forgets what was known about it, so that the next use
 * asks the store again. (The atomic layout's journal lives in memory, and its files
 * learn their state from the store's commit records.)
 */
interface FileEntry {
  /** The open file, or one kept after close because its size is known. */
  file: PagedFile | undefined;
  /** Without a file: the size on the store, when known (0: the file does not exist). */
  knownSize: number | undefined;
  /** Open handles on the file. */
  opens: number;
  /** False once a request on the file failed: its size on the store is then uncertain. */
  trusted: boolean;
  /** Keep the entry after the last close (journals); main files are re-listed at each open. */
  keep: boolean;
}

export interface OpenStoreFileOptions {
  layout: Layout;
  blockSize: number;
  /** Remember the file's size after it is closed (for journals, checked every transaction). */
  keep: boolean;
  /** A database file (not a journal): refuse one written in the other layout, or an SQLite file stored as one object, rather than create it (see DirectFormatOptions.probeOthers). */
  database: boolean;
  /** Options of the atomic layout. */
  atomic?: AtomicOptions | undefined;
}

/**
 * The key of a file in this process's table: its name, plus the atomic layout's
 * options when there are any. Connections that open one database with different
 * options (another lease setting, a snapshot `asOf`) get their own PagedFile and lock
 * table, as if they were other processes: the atomic layout keeps those apart at
 * commit time. (The direct layout has no such options: one entry per name.)
 */
export function fileKey(name: string, atomic: AtomicOptions | undefined): string {
  if (!atomic || Object.keys(atomic).length === 0) return name;
  const entries = Object.entries(atomic)
    // The clock is the process's, not an option of the view: connections share the file whatever object they pass.
    .filter(([key, value]) => value !== undefined && key !== 'clock')
    .map(([key, value]) => [key, value instanceof Date ? value.toISOString() : value] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? name : `${name}\0${JSON.stringify(entries)}`;
}

export class StoreFiles {
  readonly #store: BlockStore;
  readonly #entries = new Map<string, FileEntry>();
  readonly #locks = new Map<string, FileLock>();
  /** Opens in progress, by key: a second open of the same file waits for the first (connections run side by side). */
  readonly #opening = new Map<string, Promise<PagedFile>>();

  constructor(store: BlockStore) {
    this.#store = store;
  }

  /** The lock table entry of file `name`. */
  lock(name: string): FileLock {
    let lock = this.#locks.get(name);
    if (!lock) {
      lock = new FileLock();
      this.#locks.set(name, lock);
    }
    return lock;
  }

  /** Whether file `key` is open on some handle now (so that opening it again loads nothing). */
  isOpen(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry?.file !== undefined && (entry.opens > 0 || entry.trusted);
  }

  /**
   * Opens file `name` (kept in the table as `key`), sharing the PagedFile with other
   * handles; lists the store only if its size is unknown.
   */
  async open(key: string, name: string, options: OpenStoreFileOptions): Promise<PagedFile> {
    for (let pending = this.#opening.get(key); pending; pending = this.#opening.get(key)) await pending.catch(() => undefined);
    const opening = this.#openNow(key, name, options);
    this.#opening.set(key, opening);
    try {
      return await opening;
    } finally {
      this.#opening.delete(key);
    }
  }

  async #openNow(key: string, name: string, options: OpenStoreFileOptions): Promise<PagedFile> {
    const entry = this.#entries.get(key);
    if (entry?.file && this.isOpen(key)) {
      entry.opens += 1;
      return entry.file;
    }
    const knownSize = entry?.trusted ? entry.knownSize : undefined;
    let file: PagedFile;
    try {
      file = await openPagedFile(this.#store, name, {
        layout: options.layout,
        blockSize: options.blockSize,
        ...(knownSize === undefined ? {} : { knownSize }),
        ...(options.database ? { probeOthers: true } : {}),
        ...(options.layout === 'atomic' ? { atomic: { ...options.atomic, ...blockCache(this.#store, options.atomic) } } : {}),
      });
    } catch (error) {
      this.#entries.delete(key);
      throw error;
    }
    this.#entries.set(key, { file, knownSize: undefined, opens: 1, trusted: true, keep: options.keep });
    return file;
  }

  /**
   * Releases one handle on file `key`, first syncing buffered writes so that nothing is
   * lost at close. The last handle closes the PagedFile (which releases a writer lease).
   */
  async close(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.opens = Math.max(0, entry.opens - 1);
    const last = entry.opens === 0 && (!entry.keep || !entry.trusted);
    try {
      if (last) await entry.file?.close();
      else await entry.file?.sync();
    } catch (error) {
      entry.trusted = false;
      throw error;
    } finally {
      if (entry.opens === 0 && (!entry.keep || !entry.trusted)) this.#entries.delete(key);
    }
  }

  /** The open PagedFile of `key`, if any. */
  file(key: string): PagedFile | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.opens > 0 ? entry.file : undefined;
  }

  /** Syncs `name`; a failure makes its size on the store unknown. */
  async sync(name: string, file: PagedFile): Promise<void> {
    await this.#tracked(name, () => file.sync());
  }

  /** Runs a request on file `name`; if it fails, what was known about the file is forgotten. */
  async #tracked<T>(name: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      this.markUncertain(name);
      throw error;
    }
  }

  /** Forgets the known size of `name` (after a failed request on it). */
  markUncertain(name: string): void {
    const entry = this.#entries.get(name);
    if (!entry) return;
    entry.trusted = false;
    if (entry.opens === 0) this.#entries.delete(name);
  }

  /** Whether file `name` has any bytes: from what this process knows, else one small ranged GET. */
  async exists(name: string): Promise<boolean> {
    const size = this.#knownSize(name);
    if (size !== undefined) return size > 0;
    const exists = await DirectFormat.exists(this.#store, name);
    if (!exists) this.#entries.set(name, { file: undefined, knownSize: 0, opens: 0, trusted: true, keep: true });
    return exists;
  }

  /** Deletes every block of `name`: without listing when its size is known. */
  async delete(name: string, blockSize: number): Promise<void> {
    const entry = this.#entries.get(name);
    const open = entry !== undefined && entry.opens > 0;
    const size = open ? undefined : this.#knownSize(name);
    const fileBlockSize = entry?.file?.blockSize ?? blockSize;
    try {
      if (size !== 0) await DirectFormat.delete(this.#store, name, size, size === undefined ? undefined : fileBlockSize);
    } catch (error) {
      this.markUncertain(name);
      throw error;
    }
    if (open) {
      entry.trusted = false; // the open handle's view no longer matches the store
      return;
    }
    this.#entries.set(name, { file: undefined, knownSize: 0, opens: 0, trusted: true, keep: true });
  }

  #knownSize(name: string): number | undefined {
    const entry = this.#entries.get(name);
    if (!entry?.trusted) return undefined;
    return entry.file ? entry.file.size : entry.knownSize;
  }
}

/** Block caches of the atomic layout, per store object and size: the process's, shared by its connections. */
const caches = new WeakMap<BlockStore, Map<number, CachedStore>>();

/** The process-wide block cache of `store` for these atomic options (none with `cacheBytes: 0`). */
function blockCache(store: BlockStore, atomic: AtomicOptions | undefined): { blockCache?: CachedStore } {
  const bytes = atomic?.cacheBytes ?? DEFAULT_BLOCK_CACHE_BYTES;
  if (bytes === 0) return {};
  let bySize = caches.get(store);
  if (!bySize) {
    bySize = new Map();
    caches.set(store, bySize);
  }
  let cache = bySize.get(bytes);
  if (!cache) {
    cache = withCache(store, { maxBytes: bytes });
    bySize.set(bytes, cache);
  }
  return { blockCache: cache };
}

const byStore = new WeakMap<BlockStore, StoreFiles>();

/** The process-wide state of `store` for the direct layout (one per store object: another object over the same bucket is another "process"). */
export function storeFiles(store: BlockStore): StoreFiles {
  let files = byStore.get(store);
  if (!files) {
    files = new StoreFiles(store);
    byStore.set(store, files);
  }
  return files;
}
