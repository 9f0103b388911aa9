import { constants, type BigIntStats, type Stats } from 'node:fs';
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from './durable.js';
import { FolderError, errorCode } from './errors.js';

/**
 * FsStore never follows a symbolic link inside its root. A link planted (by a user,
 * another program, or anyone who can write to the folder) where an object file, a key
 * directory `seg~`, a lock file or a temp file goes would otherwise make a get read, or a
 * put, a lock or a delete create, rename or unlink files outside the root. A link is
 * refused, as kind `permanent`, naming the path, never followed nor silently replaced:
 *
 * - Files are opened for reading with O_NOFOLLOW (a link at the name fails the open) and
 *   created with O_CREAT|O_EXCL (temp and lock files), which never follows a link: the
 *   name exists, EEXIST. link() and rename() replace or refuse a link at the destination
 *   without following it, and unlink() removes the link itself; still, a put or a delete
 *   lstat()s the object under its lock and refuses a link, so that what the folder holds
 *   stays what a get would refuse.
 * - Node has no openat(), so directories are checked by path: before a request touches
 *   anything in a key directory, the key directories between the root and the object are
 *   checked (checkKeyDirs: one realpath(), else an lstat() of each) and must be
 *   directories. Missing ones are made one level at a time with a plain mkdir(), never
 *   `mkdir -p`, which would go through a link and make directories outside the root.
 *   Checked on every request, not cached: a directory can be swapped for a link at any time.
 * - Listings do not descend into a link, and a link with an object's or a key directory's
 *   name is refused when the listing reaches it.
 *
 * What this cannot close without openat() is a race: a directory swapped for a link
 * between its lstat and the use of a path through it, a window of microseconds that an
 * attacker has to hit while a request runs. The root itself may be a link (where the data
 * lives is the user's choice): FsStore resolves it once, at construction.
 */

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** Opens an object file for reading: not through a link at its name, and without waiting on a FIFO planted there. */
export const READ_FLAGS = constants.O_RDONLY | NOFOLLOW | (constants.O_NONBLOCK ?? 0);

export function symlinkError(path: string): FolderError {
  return new FolderError(`${path} is a symbolic link; FsStore never follows symbolic links inside its root (remove it)`, path);
}

/** The error for what an open with O_NOFOLLOW reported: a link at `path` (ELOOP; EMLINK on FreeBSD) or anything else as it was. */
export async function openError(path: string, error: unknown): Promise<unknown> {
  const code = errorCode(error);
  if (code !== 'ELOOP' && code !== 'EMLINK') return error;
  const stats = await lstat(path).catch(() => undefined);
  return stats?.isSymbolicLink() ? symlinkError(path) : error;
}

/** Refuses a link, or anything else that is not a regular file, where an object or lock file should be. */
export function checkRegularFile(path: string, stats: Stats | BigIntStats): void {
  if (stats.isSymbolicLink()) throw symlinkError(path);
  if (!stats.isFile()) throw new FolderError(`${path} is not a regular file`, path);
}

/**
 * Checks the key directories of an object, from the root down (see KeyPaths.dirs). Returns
 * how many exist, all of them as directories: `dirs.length` when the object's directory
 * exists. Throws when one is a link or not a directory.
 *
 * The usual case costs one job on libuv's threads whatever the depth: realpath() of the
 * deepest directory (one readlink per path component, in that job) gives the path itself
 * back only if no component is a link, as the root was resolved when the store was made.
 * Anything else (a link, a missing or foreign directory, a root moved behind a link since)
 * takes the exact walk. (realpath reads a planted link's text and looks up the names it
 * points to; nothing is opened, read or listed there.)
 */
export async function checkKeyDirs(dirs: readonly string[]): Promise<number> {
  const deepest = dirs.at(-1);
  if (deepest === undefined) return 0;
  if ((await realpath(deepest).catch(() => undefined)) === deepest) return dirs.length;
  return walkKeyDirs(dirs);
}

/** lstat()s the directories one at a time, from the root down: never a lookup through one found to be a link. */
async function walkKeyDirs(dirs: readonly string[]): Promise<number> {
  for (const [i, dir] of dirs.entries()) {
    let stats;
    try {
      stats = await lstat(dir);
    } catch (error) {
      // ENAMETOOLONG: a listed prefix with a segment too long for a name; no key has it.
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENAMETOOLONG') return i;
      throw error;
    }
    checkDirectory(dir, stats);
  }
  return dirs.length;
}

/**
 * Makes `dirs[from…]`, one level at a time, and fsyncs their parents so that a crash cannot
 * lose the path to an acknowledged object (the last directory itself is synced by the caller
 * once the object is in it). A directory another put made meanwhile is checked like any.
 */
export async function makeKeyDirs(dirs: readonly string[], from: number): Promise<void> {
  const parents: string[] = [];
  for (const dir of dirs.slice(from)) {
    try {
      await mkdir(dir);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      checkDirectory(dir, await lstat(dir));
    }
    // Made by us or by a racing put: sync the parent either way, not to depend on the other put's fsync.
    parents.push(dirname(dir));
  }
  await Promise.all(parents.map(syncDir));
}

function checkDirectory(path: string, stats: Stats): void {
  if (stats.isSymbolicLink()) throw symlinkError(path);
  if (!stats.isDirectory()) throw new FolderError(`${path} is not a directory (it is where the store keeps the keys under a prefix)`, path);
}
