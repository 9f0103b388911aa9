import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

/**
 * Durability helpers. A put is acknowledged only once its bytes and its directory
 * entry are on disk: the file is fsynced before it is renamed or linked into place,
 * and the directory after, since a rename lives in the directory, not in the file.
 */

/** Writes `content` to a new file (failing if it exists, even as a symbolic link) and fsyncs it. */
export async function writeNewFile(path: string, content: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A directory fsync in progress, and the one queued to start after it. */
interface DirSync {
  running: Promise<void>;
  queued: Promise<void> | undefined;
}
const dirSyncs = new Map<string, DirSync>();

/**
 * Makes a directory's entries (creations, renames, unlinks) durable: resolves once an
 * fsync of the directory that started after this call has finished. Concurrent calls
 * share one: the puts of a commit (hundreds of blocks in one directory) then cost a
 * few directory fsyncs instead of one each. An fsync already running may have started
 * before the caller's rename, so a caller joins the one queued after it, never it.
 */
export function syncDir(path: string): Promise<void> {
  const current = dirSyncs.get(path);
  if (!current) return startDirSync(path);
  current.queued ??= current.running.then(startAfter, startAfter).then(() => startDirSync(path));
  return current.queued;
}

const startAfter = (): void => undefined;

function startDirSync(path: string): Promise<void> {
  const entry: DirSync = { running: fsyncDir(path), queued: undefined };
  dirSyncs.set(path, entry);
  const forget = (): void => {
    if (dirSyncs.get(path) === entry) dirSyncs.delete(path);
  };
  entry.running.then(forget, forget);
  return entry.running;
}

/** A directory, opened to be fsynced: never through a symbolic link at its name (see no-follow.ts). */
const DIR_FLAGS = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0);

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, DIR_FLAGS);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dir` and any missing parents. When it created some, it fsyncs each new
 * directory's parent, so that a crash cannot lose the path to an acknowledged object.
 * (`dir` itself is synced by the caller once something is in it.) For the root only: its
 * parents are the user's, links included; key directories are made by makeKeyDirs
 * (no-follow.ts), which never goes through a link.
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
