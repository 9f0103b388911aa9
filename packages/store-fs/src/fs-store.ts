import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
} from '@blockvfs/core';
import { ensureDir, syncDir, writeNewFile } from './durable.js';
import { SOURCE, errorCode, fsError, invalid } from './errors.js';
import { withLock, LockTimeoutError, type LockOptions } from './key-lock.js';
import { TEMP_INFIX, keyPaths, pathKeyProblem, type KeyPaths } from './key-path.js';
import { walk } from './list-walk.js';
import { CorruptObjectError, HEADER_SIZE, encodeObject, parseHeader, readExactly, readMeta } from './object-file.js';

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
 * naming, object-file.ts for the format).
 *
 * - Every put writes a temp file next to the object, fsyncs it, moves it into place
 *   and fsyncs the directory: readers see the old file or the new one, never a mix,
 *   and an acknowledged put survives a crash.
 * - `ifNoneMatch: '*'` moves it with link(), which fails if the name exists: an atomic
 *   create-if-absent, across processes, with no lock.
 * - `ifMatch`, plain puts and deletes take the key's lock file (key-lock.ts) around
 *   check-then-rename / rename / unlink, so that nothing slips between another
 *   writer's etag check and its rename.
 * - Empty directories are left behind by delete: removing one would race with a writer
 *   that has just created it for its temp file, and the layouts reuse their few
 *   directories anyway.
 *
 * Safe for many processes on one machine and one local file system; not for network
 * file systems, whose O_EXCL and rename guarantees vary.
 */
export class FsStore implements BlockStore {
  readonly name: string;
  readonly root: string;
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: Number.MAX_SAFE_INTEGER };
  readonly #lock: LockOptions;

  constructor(options: FsStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new BlockVfsError('invalid', `root must be a non-empty path, got ${JSON.stringify(options?.root)}`, { source: SOURCE });
    }
    this.root = resolve(options.root);
    this.name = options.name ?? `fs:${this.root}`;
    this.#lock = { staleMs: options.lockStaleMs ?? 10_000, timeoutMs: options.lockTimeoutMs ?? 30_000 };
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const paths = this.#paths(key);
    if (range) checkRange(range, this.name);
    let handle;
    try {
      handle = await open(paths.file, 'r');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw this.#error(`get "${key}"`, error);
    }
    try {
      if (!range) {
        // One read of header and bytes; the object is a view past the header (a plain
        // Uint8Array, not a Buffer, whose slice() would not copy).
        const { size } = await handle.stat();
        const file = new Uint8Array(size);
        await readExactly(handle, file, 0);
        parseHeader(file, size);
        return file.subarray(HEADER_SIZE);
      }
      const { size } = await readMeta(handle);
      const start = Math.min(range.offset, size);
      const end = range.length === undefined ? size : Math.min(size, range.offset + range.length);
      const bytes = new Uint8Array(Math.max(0, end - start));
      await readExactly(handle, bytes, HEADER_SIZE + start);
      return bytes;
    } catch (error) {
      throw this.#error(`get "${key}"`, error);
    } finally {
      await handle.close();
    }
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    const paths = this.#paths(key);
    const { content, etag } = encodeObject(data);
    const temp = join(paths.dir, `${paths.name}${TEMP_INFIX}${process.pid}~${randomBytes(6).toString('hex')}`);
    let renamed = false;
    try {
      await writeTempFile(paths.dir, temp, content);
      if (condition && 'ifNoneMatch' in condition) {
        await this.#create(key, paths, temp);
      } else {
        await withLock(paths.lock, this.#lock, async () => {
          if (condition && 'ifMatch' in condition) await this.#checkEtag(key, paths, condition.ifMatch);
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

  /** Create-if-absent: link() refuses an existing name, atomically, whoever else is trying. */
  async #create(key: string, paths: KeyPaths, temp: string): Promise<void> {
    try {
      await link(temp, paths.file);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') {
        throw new BlockVfsError('precondition-failed', `"${key}" already exists`, { source: SOURCE, store: this.name, cause: error });
      }
      throw error;
    }
    await syncDir(paths.dir);
  }

  /** Under the key's lock: the object must exist with etag `expected`. */
  async #checkEtag(key: string, paths: KeyPaths, expected: string): Promise<void> {
    let handle;
    try {
      handle = await open(paths.file, 'r');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: it does not exist`, { source: SOURCE, store: this.name });
    }
    let current: string;
    try {
      current = (await readMeta(handle)).etag;
    } finally {
      await handle.close();
    }
    if (current !== expected) {
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: its etag is ${current}, not ${expected}`, { source: SOURCE, store: this.name });
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const unique = new Map(keys.map((key) => [key, this.#paths(key)]));
    const touched = new Set<string>();
    await forEachLimit(unique, DELETE_PARALLELISM, async ([key, paths]) => {
      try {
        await withLock(paths.lock, this.#lock, async () => {
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
      yield* walk(this.root, prefix, options.startAfter);
    } catch (error) {
      throw this.#error(`list "${prefix}"`, error);
    }
  }

  #paths(key: string): KeyPaths {
    const problem = pathKeyProblem(key);
    if (problem) throw invalid(this.name, problem);
    return keyPaths(this.root, key);
  }

  #error(what: string, error: unknown): BlockVfsError {
    if (error instanceof LockTimeoutError) return new BlockVfsError('transient', `${what}: ${error.message}`, { source: SOURCE, store: this.name, cause: error });
    if (error instanceof CorruptObjectError) return new BlockVfsError('permanent', `${what}: ${error.message}`, { source: SOURCE, store: this.name, cause: error });
    return fsError(this.name, what, error);
  }
}

/** Writes the temp file, creating its directory only when missing: most puts go to a directory that exists. */
async function writeTempFile(dir: string, temp: string, content: Uint8Array): Promise<void> {
  try {
    await writeNewFile(temp, content);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    await ensureDir(dir);
    await writeNewFile(temp, content);
  }
}

function checkRange(range: ByteRange, store: string): void {
  const problem = rangeProblem(range);
  if (problem) throw invalid(store, problem);
}
