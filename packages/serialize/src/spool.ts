/**
 * Where an incoming database is held while it is checked, before anything goes to the
 * store: a temporary file (TempSpool, any size) or memory (MemorySpool).
 */
export interface Spool {
  /** Bytes appended so far. */
  readonly size: number;
  /** Appends a copy of `chunk`; returns true about once per MiB (a good moment to report progress). */
  append(chunk: Uint8Array): Promise<boolean>;
  /** Makes every appended byte readable. */
  flush(): Promise<void>;
  /** Fills `target` with the bytes at `position` (flush first). */
  read(target: Uint8Array, position: number): Promise<void>;
  /** Lets go of what it holds. Never throws: cleanup must not hide the real outcome. */
  remove(): Promise<void>;
}

/** How many bytes the memory spool takes between two progress reports. */
const REPORT_EVERY = 1024 * 1024;

/**
 * The incoming database held in memory: where there is no file system (a browser), or
 * no file system may be touched (a deterministic simulation). Needs the database's size
 * in memory, twice over for a moment when it is first read (the chunks are joined).
 */
export class MemorySpool implements Spool {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #whole: Uint8Array | undefined;

  get size(): number {
    return this.#size;
  }

  async append(chunk: Uint8Array): Promise<boolean> {
    this.#chunks.push(new Uint8Array(chunk)); // a copy (a Buffer's slice() would be a view): a source may reuse its buffer for the next chunk
    const before = this.#size;
    this.#size += chunk.length;
    this.#whole = undefined;
    return Math.floor(before / REPORT_EVERY) !== Math.floor(this.#size / REPORT_EVERY);
  }

  async flush(): Promise<void> {}

  async read(target: Uint8Array, position: number): Promise<void> {
    if (this.#whole === undefined) {
      const whole = new Uint8Array(this.#size);
      let at = 0;
      for (const chunk of this.#chunks) {
        whole.set(chunk, at);
        at += chunk.length;
      }
      this.#whole = whole;
      this.#chunks = [whole];
    }
    if (position + target.length > this.#size) throw new RangeError(`the spool holds ${this.#size} bytes, not ${position + target.length}`);
    target.set(this.#whole.subarray(position, position + target.length));
  }

  async remove(): Promise<void> {
    this.#chunks = [];
    this.#whole = undefined;
    this.#size = 0;
  }
}
