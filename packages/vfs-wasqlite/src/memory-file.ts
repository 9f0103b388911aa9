/**
 * A file in this process's memory, for what SQLite needs only while a connection is
 * open: temp databases, statement journals, sort spills, VACUUM's copy. Sending those
 * to the object store would cost requests and buy nothing (they die with the process).
 */
export class MemoryFile {
  #data = new Uint8Array(0);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Copies bytes at `offset` into `target`, zero-filling past the end; returns how many came from the file. */
  read(target: Uint8Array, offset: number): number {
    const available = Math.max(0, Math.min(target.length, this.#size - offset));
    if (available > 0) target.set(this.#data.subarray(offset, offset + available));
    target.fill(0, available);
    return available;
  }

  write(data: Uint8Array, offset: number): void {
    const end = offset + data.length;
    this.#ensureCapacity(end);
    this.#data.set(data, offset);
    if (end > this.#size) this.#size = end;
  }

  truncate(size: number): void {
    if (size < this.#size)
      this.#data.fill(0, size, this.#size); // a later growth must read zeros
    else this.#ensureCapacity(size);
    this.#size = size;
  }

  #ensureCapacity(size: number): void {
    if (size <= this.#data.length) return;
    const grown = new Uint8Array(Math.max(size, this.#data.length * 2, 4096));
    grown.set(this.#data.subarray(0, this.#size));
    this.#data = grown;
  }
}
