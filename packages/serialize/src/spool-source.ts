import { isBlockVfsError } from '@blockvfs/core';
import { serializeError } from './errors.js';
import { HEADER_SIZE, parseHeader, type DatabaseHeader } from './sqlite-header.js';
import type { Spool } from './spool.js';

export type ChunkSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** What the source held, once all of it is in the spool. */
export interface SpooledDatabase {
  header: DatabaseHeader;
  bytes: number;
}

/**
 * Copies every chunk of `source` into `spool`, checking the header as soon as its
 * 100 bytes have arrived, so that a stream that is not an SQLite database is
 * refused at once instead of after reading all of it. `progress` is called with the
 * bytes read so far each time the spool writes to disk.
 *
 * A failure of the source itself is reported with the source's error as `cause`; a
 * BlockVfsError from the source (serialize's stream from another store, say) keeps
 * its kind, so a transient failure still reads as one.
 */
export async function spoolSource(source: ChunkSource, spool: Spool, what: string, progress: (bytes: number) => void): Promise<SpooledDatabase> {
  const iterator = iterate(source);
  const headerBytes = new Uint8Array(HEADER_SIZE);
  let header: DatabaseHeader | undefined;
  let finished = false;
  let reported = -1;
  const report = (bytes: number): void => {
    if (bytes === reported) return;
    reported = bytes;
    progress(bytes);
  };
  try {
    for (;;) {
      let result: IteratorResult<Uint8Array>;
      try {
        result = await iterator.next();
      } catch (error) {
        finished = true; // a source that threw is over; do not ask it to return
        throw sourceError(error, spool.size);
      }
      if (result.done) {
        finished = true;
        break;
      }
      const chunk: unknown = result.value;
      if (!(chunk instanceof Uint8Array)) {
        throw serializeError('invalid', `the source must yield Uint8Array chunks (Buffer is fine), got ${describe(chunk)} after ${spool.size} bytes`);
      }
      if (header === undefined && spool.size < HEADER_SIZE) {
        const start = spool.size;
        headerBytes.set(chunk.subarray(0, HEADER_SIZE - start), start);
        if (start + chunk.length >= HEADER_SIZE) header = parseHeader(headerBytes, what);
      }
      if (await spool.append(chunk)) report(spool.size);
    }
  } finally {
    // Stopped early (bad header, bad chunk, full disk): let the source release what it holds.
    if (!finished) await Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
  await spool.flush();
  report(spool.size);
  // Shorter than a header: parseHeader says "empty", "not SQLite" or "too short".
  header ??= parseHeader(headerBytes.subarray(0, spool.size), what);
  return { header, bytes: spool.size };
}

function iterate(source: ChunkSource): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  if (source !== null && typeof source === 'object') {
    if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
    if (Symbol.iterator in source) return source[Symbol.iterator]();
  }
  throw serializeError('invalid', `source must be an Iterable or AsyncIterable of Uint8Array chunks, got ${describe(source)}`);
}

function sourceError(error: unknown, bytes: number): Error {
  const detail = error instanceof Error ? error.message : String(error);
  const kind = isBlockVfsError(error) ? error.kind : 'invalid';
  return serializeError(kind, `the source failed after ${bytes} bytes, nothing was written to the store: ${detail}`, undefined, error);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
