import type { BigIntStats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import type { ByteRange } from '@blockvfs/core/store';
import { FolderError, errorCode } from './errors.js';
import { READ_FLAGS, checkRegularFile, openError } from './no-follow.js';

/**
 * An object file (format 2; root-format.ts tells the formats apart) holds the object's
 * bytes and nothing else: a 4,096-byte block is a 4,096-byte file, one file-system block,
 * where format 1's 24-byte header (`BVFSOBJ1` + MD5) made it 4,120 bytes, two blocks.
 *
 * The etag is read from the file's inode: `<inode>-<size>-<mtime in ns>`, in hex. It keeps
 * what format 1's header gave:
 * - It changes atomically with the bytes: the inode carries both, and one rename (or link)
 *   puts a new inode in place.
 * - Reading it is one lstat (ifMatch, list): no open, no read, no hashing.
 * - It does not repeat by accident for another write of the key. Inode, size and mtime
 *   alone could: ext4 gives a freed inode number to the next new file at once (a key
 *   rewritten in turn goes A, B, A, B…), blocks all have one size, and the kernel stamps
 *   file times from a coarse clock (a tick, ~4 ms, on many kernels), so two writes of a
 *   block within a tick could share all three and let a stale ifMatch through. So each put
 *   sets the temp file's mtime, before the rename, to a random microsecond of the current
 *   second: one of 1,000,000 values (Node's futimes passes the time to libuv, which keeps
 *   microseconds in the libuv of Node 24; finer steps would be cut there). A repeat needs
 *   the same inode back, the same size, the same second and the same one of a million
 *   random values. (The etag of the version a put
 *   replaces always differs: that file still holds its inode while the new one is made; a
 *   repeat needs a version two writes old, or one deleted before the key was made again.)
 * - The put reads the time back, and fails as kind `permanent` where the file system did not
 *   keep it to the microsecond (FAT, HFS+, ext4 with 128-byte inodes, some network file
 *   systems): there etags could repeat, and FsStore refuses rather than risk a stale ifMatch
 *   getting through.
 *
 * Weighed and left: a content hash needs a header (the second block), a sidecar file (then
 * the etag no longer changes with the bytes in one rename) or hashing on every ifMatch and
 * list; extended attributes have no Node API; an etag in the file name makes every get a
 * directory scan. Unlike format 1's MD5 (and S3's), the etag is not a content hash: writing
 * back the same bytes gives a new etag, which only makes a compare-and-swap stricter.
 * Anything that rewrites the file in place (`touch`, an editor) changes the etag too. The
 * mtime is off real time by less than a second; nothing else reads it.
 */

/** Steps of a second that Node's futimes sets exactly: microseconds (libuv rounds what it is given to them). */
const TICKS_PER_SECOND = 1_000_000;
/** A file system must keep the mtime set to within this, or FsStore refuses to write on it. */
const KEPT_WITHIN_NS = 1000n;

export function etagOf(stats: BigIntStats): string {
  return `${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}`;
}

/**
 * Writes a new object file at `path` (a temp file: failing if the name exists, a link
 * included), gives it a random mtime in the current second, fsyncs it and returns its
 * etag, which the file keeps once renamed or linked into place.
 */
export async function writeObjectFile(path: string, content: Uint8Array): Promise<string> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(content);
    const wanted = await setRandomMtime(handle); // after the last write, which would reset it
    const stats = await handle.stat({ bigint: true });
    checkTimeKept(path, wanted, stats.mtimeNs);
    await handle.sync();
    return etagOf(stats);
  } finally {
    await handle.close();
  }
}

/** Sets atime and mtime to a random instant of the current second; returns it in ns. */
async function setRandomMtime(handle: FileHandle): Promise<bigint> {
  const second = Math.floor(Date.now() / 1000);
  const tick = Math.floor(Math.random() * TICKS_PER_SECOND);
  // Half a step in: libuv cuts the double down to its microsecond, and second + tick/1e6 may fall just below it.
  const time = second + (tick + 0.5) / TICKS_PER_SECOND;
  await handle.utimes(time, time); // atime too: nothing reads it, and one value is simplest
  return BigInt(second) * 1_000_000_000n + BigInt(Math.floor((tick * 1e9) / TICKS_PER_SECOND));
}

/** Refuses a file system that did not keep the mtime set (a coarse one: etags could repeat there). */
export function checkTimeKept(path: string, wanted: bigint, kept: bigint): void {
  const off = kept > wanted ? kept - wanted : wanted - kept;
  if (off >= KEPT_WITHIN_NS) {
    throw new FolderError(
      `${path}: the file system kept the modification time ${kept} ns when ${wanted} ns was set; FsStore's etags need file times kept to the microsecond (see "Etags" in its README)`,
      path,
    );
  }
}

/** The object's bytes, or the `range` of them, or undefined when there is no object file at `path`. */
export async function readObject(path: string, range?: ByteRange): Promise<Uint8Array | undefined> {
  let handle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw await openError(path, error);
  }
  try {
    const stats = await handle.stat();
    checkRegularFile(path, stats); // a directory, or a FIFO planted at the name (which O_NONBLOCK opened without waiting)
    const { size } = stats;
    const start = range ? Math.min(range.offset, size) : 0;
    const end = range?.length === undefined ? size : Math.min(size, range.offset + range.length);
    // A plain Uint8Array, not a Buffer, whose slice() would not copy.
    const bytes = new Uint8Array(Math.max(0, end - start));
    await readExactly(path, handle, bytes, start);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** The stats of the object file at `path` (not following a link: one is refused), or undefined when there is none. */
export async function statObject(path: string): Promise<BigIntStats | undefined> {
  let stats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  checkRegularFile(path, stats);
  return stats;
}

/** Reads exactly `target.length` bytes at `position`, which the file's size allowed: FsStore never changes a file in place, something else truncated it. */
async function readExactly(path: string, handle: FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw new FolderError(`${path} ended at ${position + done}, ${target.length - done} bytes short: it was truncated in place`, path);
    done += bytesRead;
  }
}
