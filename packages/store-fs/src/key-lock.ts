import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { link, lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from './errors.js';
import { READ_FLAGS, checkRegularFile } from './no-follow.js';

/**
 * A per-key lock that works across processes: the lock is a file created with
 * O_CREAT|O_EXCL next to the object, removed on release. Locks are held for
 * milliseconds (an etag check and a rename), so waiters poll.
 *
 * A process that dies holding a lock leaves the file behind. A waiter breaks such a
 * lock when it is older than `staleMs` and its owner is gone (same host, pid not
 * running) or when it is older than 6 × `staleMs` whatever the owner (another host, a
 * reused pid). Breaking is made safe against other breakers: the lock is renamed
 * aside, and only if the renamed file is the one judged stale (same inode and mtime)
 * is it dropped; a fresh lock moved by mistake is linked back. What is left is a
 * microsecond window in which a third process could take the lock while it was moved
 * aside; it needs a dead owner and three contenders at once.
 *
 * A symbolic link (or a directory) at the lock's name is refused, never followed: the
 * lock is created with O_CREAT|O_EXCL, which takes a link for an existing file (EEXIST),
 * and the waiter that then looks at the "held" lock lstat()s it and throws (no-follow.ts).
 */

export interface LockOptions {
  staleMs: number;
  timeoutMs: number;
}

interface Owner {
  pid: number;
  host: string;
  id: string;
}

/** Raised when the lock stayed busy for `timeoutMs`; the store reports it as `transient`. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
}

const HOST = hostname();

/**
 * Runs `task` holding the lock at `lockPath`. Rejects with the file system's error
 * when the lock's directory does not exist (ENOENT): callers use that to learn that
 * the key does not exist either.
 */
export async function withLock<T>(lockPath: string, options: LockOptions, task: () => Promise<T>): Promise<T> {
  await acquire(lockPath, options);
  try {
    return await task();
  } finally {
    await unlink(lockPath).catch((error: unknown) => {
      // ENOENT: someone judged our lock stale and broke it; nothing is left to release.
      if (errorCode(error) !== 'ENOENT') throw error;
    });
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<void> {
  const owner: Owner = { pid: process.pid, host: HOST, id: randomBytes(8).toString('hex') };
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner));
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    if (await breakIfStale(lockPath, options.staleMs)) continue;
    if (Date.now() > deadline) {
      const holder = await readOwner(lockPath);
      const who = holder ? `pid ${holder.pid} on ${holder.host}` : 'an unknown process';
      throw new LockTimeoutError(`lock ${lockPath} still held by ${who} after ${options.timeoutMs} ms`);
    }
    // Jittered backoff from ~1 ms to ~20 ms: holders keep a lock for one rename and fsync.
    await sleep(Math.min(20, 1 + attempt) * (0.5 + Math.random()));
  }
}

/** Removes the lock if it is stale; true when the caller should try to acquire again at once. */
async function breakIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  let judged;
  try {
    judged = await lstat(lockPath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return true; // released meanwhile
    throw error;
  }
  checkRegularFile(lockPath, judged); // a link planted at the lock's name: refused, its target never read
  const age = Date.now() - judged.mtimeMs;
  if (age <= staleMs) return false;
  if (age <= 6 * staleMs && !(await ownerIsGone(lockPath))) return false;

  const aside = `${lockPath}~stale~${randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return true; // another waiter broke it first
    throw error;
  }
  const moved = await lstat(aside);
  if (moved.ino !== judged.ino || moved.mtimeMs !== judged.mtimeMs) {
    // Another waiter broke the stale lock and someone took a fresh one, which we moved: put it back.
    await link(aside, lockPath).catch(() => undefined);
  }
  await unlink(aside);
  return true;
}

async function ownerIsGone(lockPath: string): Promise<boolean> {
  const owner = await readOwner(lockPath);
  if (!owner) return true; // empty or garbled: its creator died between open and write
  if (owner.host !== HOST) return false; // cannot tell: wait for the longer bound
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

async function readOwner(lockPath: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(lockPath, { encoding: 'utf8', flag: READ_FLAGS })) as Partial<Owner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.id === 'string' ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}
