import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * An object file is a 24-byte header, then the object's bytes:
 *
 *   bytes 0–7   magic `BVFSOBJ1` (a foreign or truncated file is reported, not served)
 *   bytes 8–23  MD5 of the object's bytes: the etag, in hex
 *
 * The etag is a content hash computed once, on put, and written in the same file as
 * the bytes, so it changes atomically with them (one rename) and reading it is one
 * 24-byte read: no re-hashing on get, list or ifMatch. A hash, rather than an etag
 * derived from stat (inode, size, mtime), cannot repeat by accident: ext4 reuses a
 * freed inode number at once and file times tick in milliseconds, so two quick writes
 * of the same size could share a stat-derived etag and let a stale ifMatch through.
 * Like S3's etag, it is the same for the same bytes.
 */
export const HEADER_SIZE = 24;
const MAGIC = Buffer.from('BVFSOBJ1', 'latin1');

/** Header and bytes in one buffer, written with one call. Copying also snapshots the caller's bytes. */
export function encodeObject(data: Uint8Array): { content: Buffer; etag: string } {
  const content = Buffer.allocUnsafeSlow(HEADER_SIZE + data.length);
  MAGIC.copy(content, 0);
  content.set(data, HEADER_SIZE);
  const digest = createHash('md5').update(content.subarray(HEADER_SIZE)).digest();
  digest.copy(content, MAGIC.length);
  return { content, etag: digest.toString('hex') };
}

/** Raised for a file that is not an object file; the store turns it into a `permanent` error. */
export class CorruptObjectError extends Error {
  override readonly name = 'CorruptObjectError';
}

/** The etag in a header, after checking the magic. */
export function parseHeader(header: Uint8Array, fileSize: number): string {
  if (fileSize < HEADER_SIZE || header.length < HEADER_SIZE || !MAGIC.equals(header.subarray(0, MAGIC.length))) {
    throw new CorruptObjectError(`not a blockvfs object file (${fileSize} bytes, no BVFSOBJ1 header)`);
  }
  return Buffer.from(header.buffer, header.byteOffset + MAGIC.length, 16).toString('hex');
}

/** Reads exactly `length` bytes at `position` (a short read only at end of file, which the caller ruled out). */
export async function readExactly(handle: FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw new CorruptObjectError(`file ended at ${position + done}, expected ${target.length - done} more bytes`);
    done += bytesRead;
  }
}

/** Size and etag of an open object file. */
export async function readMeta(handle: FileHandle): Promise<{ size: number; etag: string }> {
  const { size } = await handle.stat();
  const header = new Uint8Array(HEADER_SIZE);
  if (size >= HEADER_SIZE) await readExactly(handle, header, 0);
  return { size: size - HEADER_SIZE, etag: parseHeader(header, size) };
}
