import { randomBytes } from 'node:crypto';
import { link, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, syncDir, writeNewFile } from './durable.js';
import { FolderError, errorCode } from './errors.js';
import { DIR_SUFFIX, TEMP_INFIX, decodeSegment } from './key-path.js';
import { READ_FLAGS, openError } from './no-follow.js';

/**
 * Which format a root holds. Format 2, this code's, keeps an object's bytes alone in its
 * file (object-file.ts); format 1, before it, put a 24-byte header in front of them
 * (`BVFSOBJ1` and the MD5 of the bytes). An object's bytes may begin with anything,
 * `BVFSOBJ1` included, so the files cannot tell the formats apart: a marker file at the root
 * does. `blockvfs~format` (with a '~', which no key's file name has and listings skip)
 * holds `blockvfs-fs format 2`; a put writes it, durably, when it first finds a root with
 * no objects, before its object. So a root holding objects but no marker was written in
 * format 1, and is refused (kind `permanent`), with the way to migrate it: the README's
 * "Format 1 folders". Reading both formats would need a per-file marker, which is the
 * header again. Code of format 1 does not know the marker: it must not write to a format 2
 * root.
 */
export const FORMAT_FILE = 'blockvfs~format';
const FORMAT_TEXT = 'blockvfs-fs format 2\n';

/**
 * Checks the format of `root`, true when it is marked as format 2. With `create` (a put)
 * it makes the root and the marker when missing. Without (reads and deletes), a missing
 * root, or one without objects, is left unmarked: it has nothing to read.
 */
export async function checkRootFormat(root: string, create: boolean): Promise<boolean> {
  if (await hasMarker(root)) return true;
  const found = await firstObjectName(root);
  if (found !== undefined) {
    // Another process may have marked the root and written this object since we looked:
    // the marker comes first, so it is there now.
    if (await hasMarker(root)) return true;
    throw new FolderError(
      `${root} holds "${found}", a name FsStore gives objects, but no ${FORMAT_FILE} file: the folder was written by @blockvfs/store-fs format 1 (a 24-byte BVFSOBJ1 header in each object file), which this version does not read, or it is not a blockvfs folder. To migrate a format 1 folder, see "Format 1 folders" in the README of @blockvfs/store-fs`,
      root,
    );
  }
  if (!create) return false;
  await ensureDir(root);
  await writeMarker(root);
  return true;
}

async function hasMarker(root: string): Promise<boolean> {
  const path = join(root, FORMAT_FILE);
  let text;
  try {
    text = await readFile(path, { encoding: 'utf8', flag: READ_FLAGS });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw await openError(path, error);
  }
  if (text !== FORMAT_TEXT) {
    throw new FolderError(
      `${path} says ${JSON.stringify(text.slice(0, 60))}, not ${JSON.stringify(FORMAT_TEXT)}: the folder is in a format this version does not know`,
      path,
    );
  }
  return true;
}

/** A name at the top of the root that an object file or a key directory has, or undefined (also when there is no root). */
async function firstObjectName(root: string): Promise<string | undefined> {
  let names;
  try {
    names = await readdir(root);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  // Foreign names (lost+found, .DS_Store, README.txt) and temp or lock files do not count.
  return names.find(
    (name) => decodeSegment(name) !== undefined || (name.endsWith(DIR_SUFFIX) && decodeSegment(name.slice(0, -DIR_SUFFIX.length)) !== undefined),
  );
}

/** Writes the marker whole (a temp file, then link) and durably, before any object. */
async function writeMarker(root: string): Promise<void> {
  const path = join(root, FORMAT_FILE);
  const temp = `${path}${TEMP_INFIX}${process.pid}~${randomBytes(6).toString('hex')}`;
  try {
    await writeNewFile(temp, new TextEncoder().encode(FORMAT_TEXT));
    try {
      await link(temp, path);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      // Another process marked the root first: fine if what it wrote is the marker (hasMarker throws if not).
      if (!(await hasMarker(root))) throw error;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDir(root);
}
