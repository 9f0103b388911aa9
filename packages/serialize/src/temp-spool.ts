import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeError } from './errors.js';
import type { Spool } from './spool.js';

/** Bytes gathered in memory before one write to the temp file: few system calls even for 1-byte chunks. */
const BUFFER_SIZE = 1024 * 1024;

/**
 * A temporary file that holds an incoming database while it is checked, so that an
 * import needs neither the whole file in memory nor any write to the store before
 * the input is known to be good. Lives in its own directory under os.tmpdir();
 * `remove()` deletes both and must be called whatever happens.
 */
export class TempSpool implements Spool {
  readonly #dir: string;
  readonly #handle: FileHandle;
  readonly #buffer = new Uint8Array(BUFFER_SIZE);
  #buffered = 0;
  #written = 0;

  private constructor(dir: string, handle: FileHandle) {
    this.#dir = dir;
    this.#handle = handle;
  }

  static async create(): Promise<TempSpool> {
    const dir = await mkdtemp(join(tmpdir(), 'blockvfs-import-'));
    try {
      return new TempSpool(dir, await open(join(dir, 'database.sqlite'), 'w+', 0o600));
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw tempFileError('create', error);
    }
  }

  /** Bytes appended so far. */
  get size(): number {
    return this.#written + this.#buffered;
  }

  /** Appends a copy of `chunk`; returns true when buffered bytes went to disk (a good moment to report progress). */
  async append(chunk: Uint8Array): Promise<boolean> {
    let flushed = false;
    for (let from = 0; from < chunk.length; ) {
      const piece = chunk.subarray(from, from + BUFFER_SIZE - this.#buffered);
      this.#buffer.set(piece, this.#buffered);
      this.#buffered += piece.length;
      from += piece.length;
      if (this.#buffered === BUFFER_SIZE) {
        await this.flush();
        flushed = true;
      }
    }
    return flushed;
  }

  /** Writes the buffered bytes to the file. */
  async flush(): Promise<void> {
    let done = 0;
    try {
      while (done < this.#buffered) {
        const { bytesWritten } = await this.#handle.write(this.#buffer, done, this.#buffered - done, this.#written + done);
        done += bytesWritten;
      }
    } catch (error) {
      throw tempFileError('write', error);
    }
    this.#written += this.#buffered;
    this.#buffered = 0;
  }

  /** Fills `target` with the bytes at `position` (flush first). */
  async read(target: Uint8Array, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < target.length) {
        const { bytesRead } = await this.#handle.read(target, done, target.length - done, position + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
        done += bytesRead;
      }
    } catch (error) {
      throw tempFileError('read', error);
    }
  }

  /** Closes and deletes the file and its directory. Never throws: cleanup must not hide the real outcome. */
  async remove(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
    await rm(this.#dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function tempFileError(action: string, cause: unknown): Error {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return serializeError('permanent', `could not ${action} the temporary file that holds the incoming database under ${tmpdir()}: ${detail}`, undefined, cause);
}
