import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from './errors.js';
import { DIR_SUFFIX, decodeSegment, prefixDir } from './key-path.js';
import { CorruptObjectError, readMeta } from './object-file.js';

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
 */
export async function* walk(root: string, prefix: string, startAfter: string | undefined): AsyncGenerator<WalkEntry> {
  const start = prefixDir(root, prefix);
  if (start) yield* walkDir(start.dir, start.keyPrefix, prefix, startAfter);
}

async function* walkDir(dir: string, keyPrefix: string, prefix: string, startAfter: string | undefined): AsyncGenerator<WalkEntry> {
  const items = (await readItems(dir, keyPrefix)).filter((item) => (item.isDir ? dirMayMatch(item.sortKey, prefix, startAfter) : keyMatches(item.sortKey, prefix, startAfter)));
  const pending = new Map<Item, Promise<WalkEntry | undefined>>();
  for (let i = 0; i < items.length; i++) {
    for (let j = i; j < Math.min(items.length, i + READ_AHEAD); j++) {
      const ahead = items[j] as Item;
      if (!ahead.isDir && !pending.has(ahead)) {
        const read = readEntry(ahead);
        read.catch(() => undefined); // its error surfaces when awaited in turn; not before, nor never if the caller stops early
        pending.set(ahead, read);
      }
    }
    const item = items[i] as Item;
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
    if (dirent.isDirectory() && name.endsWith(DIR_SUFFIX)) {
      const segment = decodeSegment(name.slice(0, -DIR_SUFFIX.length));
      if (segment !== undefined) items.push({ sortKey: `${keyPrefix}${segment}/`, path: join(dir, name), isDir: true });
    } else if (dirent.isFile()) {
      // Temp and lock files have a '~' in their names, which decodeSegment refuses.
      const segment = decodeSegment(name);
      if (segment !== undefined) items.push({ sortKey: `${keyPrefix}${segment}`, path: join(dir, name), isDir: false });
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

/** Size and etag of one object file, or undefined if it was deleted since readdir. */
async function readEntry(item: Item): Promise<WalkEntry | undefined> {
  let handle;
  try {
    handle = await open(item.path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return { key: item.sortKey, ...(await readMeta(handle)) };
  } catch (error) {
    if (error instanceof CorruptObjectError) throw new CorruptObjectError(`${item.path}: ${error.message}`);
    throw error;
  } finally {
    await handle.close();
  }
}
