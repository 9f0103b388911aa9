import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { link, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  rangeProblem,
  BlockVfsError,
  forEachLimit,
  type BlockStore,
  type ByteRange,
  type ListEntry,
  type ListOptions,
  type PutCondition,
  type PutResult,
  type StoreCapabilities,
} from '@blockvfs/core/store';
import { syncDir } from './durable.js';
import { FolderError, SOURCE, errorCode, fsError, invalid } from './errors.js';
import { withLock, LockTimeoutError, type LockOptions } from './key-lock.js';
import { TEMP_INFIX, keyPaths, pathKeyProblem, type KeyPaths } from './key-path.js';
import { walk } from './list-walk.js';
import { checkKeyDirs, makeKeyDirs } from './no-follow.js';
import { etagOf, readObject, statObject, writeObjectFile } from './object-file.js';
import { checkRootFormat } from './root-format.js';

export interface FsStoreOptions {
  /** The folder holding the objects; created, with its parents, on the first put. */
  root: string;
  /** Name used in error messages (default `fs:<absolute root>`). */
  name?: string;
  /** A per-key lock older than this whose owner process is gone is broken (default 10 s). */
  lockStaleMs?: number;
  /** How long a put or delete waits for a per-key lock before failing as `transient` (default 30 s). */
  lockTimeoutMs?: number;
}

/** Deletes run this many keys at a time: each is a lock, an unlink and an unlock. */
const DELETE_PARALLELISM = 16;

/**
 * A BlockStore on a local folder: one file per object (see key-path.ts for the
 * naming, object-file.ts for the format and the etag, root-format.ts for the marker
 * telling it from format 1).
 *
 * - Every put writes a temp file next to the object, fsyncs it, moves it into place
 *   and fsyncs the directory: readers see the old file or the new one, never a mix,
 *   and an acknowledged put survives a crash.
 * - `ifNoneMatch: '*'` moves it with link(), which fails if the name exists: an atomic
 *   create-if-absent, across processes, with no lock.
 * - `ifMatch`, plain puts and deletes take the key's lock file (key-lock.ts) around
 *   check-then-rename / rename / unlink, so that nothing slips between another
 *   writer's etag check and its rename.
 * - Symbolic links inside the root are never followed (no-follow.ts): one at the place of
 *   an object file, a key directory, a lock or temp file, or met by a listing, fails the
 *   request as `permanent`, naming the key and the link, and nothing outside the root is
 *   read, written, renamed, linked, deleted or listed. The root itself may be a link:
 *   it is resolved once, here in the constructor.
 * - Empty directories are left behind by delete: removing one would race with a writer
 *   that has just created it for its temp file, and the layouts reuse their few
 *   directories anyway.
 *
 * Safe for many processes on one machine and one local file system; not for network
 * file systems, whose O_EXCL and rename guarantees vary.
 */
export class FsStore implements BlockStore {
  readonly name: string;
  /** The absolute root, as given. */
  readonly root: string;
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: Number.MAX_SAFE_INTEGER };
  readonly #lock: LockOptions;
  /** The root with symbolic links resolved: every path this store uses starts here. */
  readonly #base: string;
  /** The root carries the format 2 marker (root-format.ts): no need to look again. */
  #marked = false;
  /** A put making the root and its marker; shared by the puts that come meanwhile. */
  #marking: Promise<void> | undefined;

  constructor(options: FsStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new BlockVfsError('invalid', `root must be a non-empty path, got ${JSON.stringify(options?.root)}`, { source: SOURCE });
    }
    this.root = resolve(options.root);
    this.#base = realRoot(this.root);
    this.name = options.name ?? `fs:${this.root}`;
    this.#lock = { staleMs: options.lockStaleMs ?? 10_000, timeoutMs: options.lockTimeoutMs ?? 30_000 };
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const paths = this.#paths(key);
    if (range) checkRange(range, this.name);
    try {
      if (!this.#marked) await this.#checkRoot();
      if ((await checkKeyDirs(paths.dirs)) < paths.dirs.length) return undefined;
      return await readObject(paths.file, range);
    } catch (error) {
      throw this.#error(`get "${key}"`, error);
    }
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    const paths = this.#paths(key);
    // A copy taken now, before anything is awaited: the caller's buffer may change while the put runs.
    const content = new Uint8Array(data);
    const temp = join(paths.dir, `${paths.name}${TEMP_INFIX}${process.pid}~${randomBytes(6).toString('hex')}`);
    let renamed = false;
    try {
      const etag = await this.#writeTemp(paths, temp, content);
      if (condition && 'ifNoneMatch' in condition) {
        await this.#create(key, paths, temp);
      } else {
        await withLock(paths.lock, this.#lock, async () => {
          // Also refuses a link or a directory planted where the object goes.
          const current = await statObject(paths.file);
          if (condition && 'ifMatch' in condition) this.#checkEtag(key, current && etagOf(current), condition.ifMatch);
          await rename(temp, paths.file);
          renamed = true;
          await syncDir(paths.dir);
        });
      }
      return { etag };
    } catch (error) {
      throw this.#error(`put "${key}"`, error);
    } finally {
      // Still there after a link or a failure.
      if (!renamed) await unlink(temp).catch(() => undefined);
    }
  }

  /** Marks the root if needed, makes the key's directories if missing, and writes the temp file; returns its etag. */
  async #writeTemp(paths: KeyPaths, temp: string, content: Uint8Array): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      await this.#markRoot();
      try {
        const existing = await checkKeyDirs(paths.dirs);
        if (existing < paths.dirs.length) await makeKeyDirs(paths.dirs, existing);
        return await writeObjectFile(temp, content);
      } catch (error) {
        // The root (or a key directory) was removed since this store marked it: start again, once.
        if (errorCode(error) !== 'ENOENT' || attempt > 0) throw error;
        this.#marked = false;
      }
    }
  }

  /** Create-if-absent: link() refuses an existing name, atomically, whoever else is trying. */
  async #create(key: string, paths: KeyPaths, temp: string): Promise<void> {
    try {
      await link(temp, paths.file);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') {
        await statObject(paths.file); // a link planted there is refused, not taken for an object
        throw new BlockVfsError('precondition-failed', `"${key}" already exists`, { source: SOURCE, store: this.name, cause: error });
      }
      throw error;
    }
    await syncDir(paths.dir);
  }

  /** Under the key's lock: the object must exist with etag `expected`. */
  #checkEtag(key: string, current: string | undefined, expected: string): void {
    if (current === undefined) {
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: it does not exist`, { source: SOURCE, store: this.name });
    }
    if (current !== expected) {
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: its etag is ${current}, not ${expected}`, {
        source: SOURCE,
        store: this.name,
      });
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const unique = new Map(keys.map((key) => [key, this.#paths(key)]));
    try {
      if (!this.#marked) await this.#checkRoot();
    } catch (error) {
      throw this.#error('delete', error);
    }
    const touched = new Set<string>();
    await forEachLimit(unique, DELETE_PARALLELISM, async ([key, paths]) => {
      try {
        if ((await checkKeyDirs(paths.dirs)) < paths.dirs.length) return;
        await withLock(paths.lock, this.#lock, async () => {
          // Refuses a link planted where the object was (unlink would only remove the link, but the rule is one for all).
          if ((await statObject(paths.file)) === undefined) return;
          await unlink(paths.file);
          touched.add(paths.dir);
        });
      } catch (error) {
        // ENOENT: no object (unlink), or not even its directory (the lock's open).
        if (errorCode(error) !== 'ENOENT') throw this.#error(`delete "${key}"`, error);
      }
    });
    try {
      await Promise.all([...touched].map(syncDir));
    } catch (error) {
      throw this.#error('delete', error);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    if (typeof prefix !== 'string') throw invalid(this.name, `a prefix must be a string, got ${JSON.stringify(prefix)}`);
    try {
      if (!this.#marked) await this.#checkRoot();
      yield* walk(this.#base, prefix, options.startAfter);
    } catch (error) {
      throw this.#error(`list "${prefix}"`, error);
    }
  }

  /** Before a read or a delete: refuses a format 1 root; a missing or empty root is fine (nothing to find). */
  async #checkRoot(): Promise<void> {
    if (await checkRootFormat(this.#base, false)) this.#marked = true;
  }

  /** Before a put: makes the root and its marker, or refuses a format 1 root. */
  #markRoot(): Promise<void> | undefined {
    if (this.#marked) return undefined;
    this.#marking ??= checkRootFormat(this.#base, true).then(
      () => {
        this.#marked = true;
        this.#marking = undefined;
      },
      (error: unknown) => {
        this.#marking = undefined;
        throw error;
      },
    );
    return this.#marking;
  }

  #paths(key: string): KeyPaths {
    const problem = pathKeyProblem(key);
    if (problem) throw invalid(this.name, problem);
    return keyPaths(this.#base, key);
  }

  #error(what: string, error: unknown): BlockVfsError {
    if (error instanceof LockTimeoutError)
      return new BlockVfsError('transient', `${what}: ${error.message}`, { source: SOURCE, store: this.name, cause: error });
    if (error instanceof FolderError) return new BlockVfsError('permanent', `${what}: ${error.message}`, { source: SOURCE, store: this.name, cause: error });
    return fsError(this.name, what, error);
  }
}

/**
 * The root with symbolic links resolved, once: the root may be a link (where the data
 * lives is the user's choice), what lies inside it may not. A root that does not exist yet
 * is its nearest existing parent, resolved, and the rest of the path.
 */
function realRoot(root: string): string {
  const missing: string[] = [];
  for (let path = root; ; path = dirname(path)) {
    try {
      return join(realpathSync(path), ...missing.reverse());
    } catch (error) {
      // Anything else (EACCES, ENOTDIR…) is for the first request to report.
      if (errorCode(error) !== 'ENOENT' || dirname(path) === path) return root;
      missing.push(basename(path));
    }
  }
}

function checkRange(range: ByteRange, store: string): void {
  const problem = rangeProblem(range);
  if (problem) throw invalid(store, problem);
}
