import {
  BlockVfsError,
  keyProblem,
  rangeProblem,
  type BlockStore,
  type ByteRange,
  type ListEntry,
  type ListOptions,
  type PutCondition,
  type PutResult,
  type StoreCapabilities,
} from '@blockvfs/core/store';

const SOURCE = '@blockvfs/store-memory';

interface StoredObject {
  data: Uint8Array;
  etag: string;
}

export interface MemoryStoreOptions {
  /** Name used in error messages (default `memory`). */
  name?: string;
}

/**
 * A BlockStore in this process's memory: for tests, examples and throwaway
 * databases. Objects are copied in and out, so callers may reuse their buffers.
 * Conditions are checked and applied in one synchronous step, hence atomic.
 */
export class MemoryStore implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: Number.MAX_SAFE_INTEGER };
  readonly #objects = new Map<string, StoredObject>();
  #puts = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.name = options.name ?? 'memory';
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    checkKey(key, this.name);
    const object = this.#objects.get(key);
    if (!object) return undefined;
    if (!range) return object.data.slice();
    checkRange(range, this.name);
    const end = range.length === undefined ? object.data.length : range.offset + range.length;
    return object.data.slice(range.offset, end);
  }

  async put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    checkKey(key, this.name);
    const current = this.#objects.get(key);
    if (condition && 'ifNoneMatch' in condition && current) {
      throw new BlockVfsError('precondition-failed', `"${key}" already exists`, { source: SOURCE, store: this.name });
    }
    if (condition && 'ifMatch' in condition && current?.etag !== condition.ifMatch) {
      const why = current ? `its etag is ${current.etag}, not ${condition.ifMatch}` : 'it does not exist';
      throw new BlockVfsError('precondition-failed', `"${key}" was not replaced: ${why}`, { source: SOURCE, store: this.name });
    }
    // A new etag per put, as Azure's and GCS's generations (S3's, an MD5 of the content, would cost a hash per put here).
    this.#puts += 1;
    const etag = `"${this.#puts}"`;
    this.#objects.set(key, { data: data.slice(), etag });
    return { etag };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkKey(key, this.name);
    for (const key of keys) this.#objects.delete(key);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    const keys = [...this.#objects.keys()].filter((key) => key.startsWith(prefix) && (options.startAfter === undefined || key > options.startAfter)).sort();
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object) yield { key, size: object.data.length, etag: object.etag }; // skip keys deleted while listing
    }
  }
}

function checkKey(key: string, store: string): void {
  const problem = keyProblem(key);
  if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store });
}

function checkRange(range: ByteRange, store: string): void {
  const problem = rangeProblem(range);
  if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store });
}
