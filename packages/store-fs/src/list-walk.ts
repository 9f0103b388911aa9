import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from './errors.js';
import { DIR_SUFFIX, decodeSegment, prefixDir } from './key-path.js';
import { checkKeyDirs, symlinkError } from './no-follow.js';
import { etagOf, statObject } from './object-file.js';

export interface WalkEntry {
  key: string;
  size: number;
  etag: string;
}

/** Object files whose size and etag are read at once, ahead of the one being yielded. */
const READ_AHEAD = 32;

interface Item {
  /** The key of a file; for a directory, the prefix ('a/b/') all its keys share. */
  sortKey: string;
  path: string;
  isDir: boolean;
  /** A symbolic link with the name of an object or a key directory: refused when the walk reaches it. */
  isLink: boolean;
}

/**
 * Yields the objects whose key starts with `prefix` (and is greater than `startAfter`),
 * in key order, walking only the directories that can hold such keys.
 *
 * Order comes from sorting each directory by key, not by file name (encoded names do
 * not sort like keys), with a directory standing at the place of its prefix 'seg/':
 * no other entry of the same directory falls between 'seg/' and the keys it holds,
 * because an entry's segment never contains '/'. So the walk is an in-order traversal
 * and nothing needs sorting beyond one directory at a time.
 *
 * Symbolic links are never followed (no-follow.ts): the directories down to the prefix's
 * are lstat()ed first, the walk descends only into entries readdir reports as directories,
 * and size and etag come from lstat. A link named like an object or a key directory, in
 * the listed range, is refused when reached; other foreign entries are skipped.
 */
export async function* walk(root: string, prefix: string, startAfter: string | undefined): AsyncGenerator<WalkEntry> {
  const start = prefixDir(root, prefix);
  if (start && (await checkKeyDirs(start.dirs)) === start.dirs.length) yield* walkDir(start.dir, start.keyPrefix, prefix, startAfter);
}

async function* walkDir(dir: string, keyPrefix: string, prefix: string, startAfter: string | undefined): AsyncGenerator<WalkEntry> {
  const items = (await readItems(dir, keyPrefix)).filter((item) =>
    item.isDir ? dirMayMatch(item.sortKey, prefix, startAfter) : keyMatches(item.sortKey, prefix, startAfter),
  );
  const pending = new Map<Item, Promise<WalkEntry | undefined>>();
  for (let i = 0; i < items.length; i++) {
    for (let j = i; j < Math.min(items.length, i + READ_AHEAD); j++) {
      const ahead = items[j] as Item;
      if (!ahead.isDir && !ahead.isLink && !pending.has(ahead)) {
        const read = readEntry(ahead);
        read.catch(() => undefined); // its error surfaces when awaited in turn; not before, nor never if the caller stops early
        pending.set(ahead, read);
      }
    }
    const item = items[i] as Item;
    if (item.isLink) throw symlinkError(item.path);
    if (item.isDir) {
      yield* walkDir(item.path, item.sortKey, prefix, startAfter);
    } else {
      const entry = await pending.get(item);
      pending.delete(item);
      if (entry) yield entry;
    }
  }
}

async function readItems(dir: string, keyPrefix: string): Promise<Item[]> {
  let names;
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    // Nothing was ever written under this prefix, or no valid key could be (a segment too long for a name).
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENAMETOOLONG') return [];
    throw error;
  }
  const items: Item[] = [];
  for (const dirent of names) {
    const { name } = dirent;
    const isLink = dirent.isSymbolicLink();
    if ((dirent.isDirectory() || isLink) && name.endsWith(DIR_SUFFIX)) {
      const segment = decodeSegment(name.slice(0, -DIR_SUFFIX.length));
      if (segment !== undefined) items.push({ sortKey: `${keyPrefix}${segment}/`, path: join(dir, name), isDir: true, isLink });
    } else if (dirent.isFile() || isLink) {
      // Temp and lock files have a '~' in their names, which decodeSegment refuses.
      const segment = decodeSegment(name);
      if (segment !== undefined) items.push({ sortKey: `${keyPrefix}${segment}`, path: join(dir, name), isDir: false, isLink });
    }
  }
  return items.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
}

function keyMatches(key: string, prefix: string, startAfter: string | undefined): boolean {
  return key.startsWith(prefix) && (startAfter === undefined || key > startAfter);
}

/** Can a key starting with `dirPrefix` start with `prefix` and follow `startAfter`? */
function dirMayMatch(dirPrefix: string, prefix: string, startAfter: string | undefined): boolean {
  if (!dirPrefix.startsWith(prefix) && !prefix.startsWith(dirPrefix)) return false;
  // Every key in the directory is below startAfter when they part ways inside dirPrefix.
  return startAfter === undefined || dirPrefix > startAfter || startAfter.startsWith(dirPrefix);
}

/** Size and etag of one object file (one lstat), or undefined if it was deleted since readdir. */
async function readEntry(item: Item): Promise<WalkEntry | undefined> {
  const stats = await statObject(item.path);
  return stats && { key: item.sortKey, size: Number(stats.size), etag: etagOf(stats) };
}
