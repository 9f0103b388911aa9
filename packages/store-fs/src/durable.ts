import { mkdir, open } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

/**
 * Durability helpers. A put is acknowledged only once its bytes and its directory
 * entry are on disk: the file is fsynced before it is renamed or linked into place,
 * and the directory after, since a rename lives in the directory, not in the file.
 */

/** Writes `content` to a new file (failing if it exists) and fsyncs it. */
export async function writeNewFile(path: string, content: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a directory's entries (creations, renames, unlinks) durable. */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dir` and any missing parents. When it created some, it fsyncs each new
 * directory's parent, so that a crash cannot lose the path to an acknowledged object.
 * (`dir` itself is synced by the caller once the object is in it.)
 */
export async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const parents = [dirname(first)];
  let path = first;
  for (const part of relative(first, dir).split(sep).filter(Boolean)) {
    parents.push(path);
    path = `${path}${sep}${part}`;
  }
  await Promise.all(parents.map(syncDir));
}
