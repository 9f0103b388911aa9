import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBlockVfsError, type ErrorKind } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bytes = (value: string) => new TextEncoder().encode(value);
const str = (value: Uint8Array | undefined) => (value === undefined ? undefined : new TextDecoder().decode(value));

async function kindOf(promise: Promise<unknown>): Promise<ErrorKind | 'no error'> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    if (!isBlockVfsError(error)) throw error;
    return error.kind;
  }
}

/** Every path under `dir`, relative, sorted: the on-disk layout. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

let parent: string;
let root: string;
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'blockvfs-fs-'));
  root = join(parent, 'store');
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('FsStore on disk', () => {
  it('keeps one file per object, directories marked with "~", names escaped', async () => {
    const store = new FsStore({ root });
    await store.put('a', bytes('1'));
    await store.put('a/b', bytes('2'));
    await store.put('Db/x y/é', bytes('3'));
    // blockvfs~format: the marker of format 2 (object-format.test.ts).
    expect(await tree(root)).toEqual(['%44b~', '%44b~/x%20y~', '%44b~/x%20y~/%C3%A9', 'a', 'a~', 'a~/b', 'blockvfs~format']);
    expect(store.name).toBe(`fs:${root}`);
  });

  it('returns plain Uint8Arrays (a Buffer would make slice() share memory)', async () => {
    const store = new FsStore({ root });
    await store.put('k', bytes('hello'));
    expect(Object.getPrototypeOf(await store.get('k'))).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(await store.get('k', { offset: 1, length: 2 }))).toBe(Uint8Array.prototype);
  });

  it('refuses keys that could leave the root or are not file names, with kind "invalid"', async () => {
    const store = new FsStore({ root });
    const bad = [
      '..',
      '../x',
      'a/../../x',
      '.',
      'a/./b',
      '/abs',
      'a//b',
      'a/',
      'nul\0byte',
      'lone\ud800',
      `long/${'x'.repeat(201)}`,
      `upper/${'X'.repeat(67)}`,
    ];
    for (const key of bad) {
      expect(await kindOf(store.put(key, bytes('x'))), JSON.stringify(key)).toBe('invalid');
      expect(await kindOf(store.get(key)), JSON.stringify(key)).toBe('invalid');
      expect(await kindOf(store.delete([key])), JSON.stringify(key)).toBe('invalid');
    }
    expect(await readdir(parent)).toEqual([]); // not even the root was created
    await store.put('ok', bytes('x'));
    for (const prefix of ['../', '/', 'a//', `${'x'.repeat(300)}/`, '\0/']) {
      for await (const entry of store.list(prefix)) expect.unreachable(`list(${JSON.stringify(prefix)}) gave ${entry.key}`);
    }
  });

  it('keeps backslashes, dots inside names and "~" inside the root as ordinary characters', async () => {
    const store = new FsStore({ root });
    for (const key of ['..\\..\\x', 'a\\b', '...', '.hidden', 'x~lock', 'y~tmp~1~2', 'z~']) {
      await store.put(key, bytes(key));
      expect(str(await store.get(key))).toBe(key);
    }
    expect(await readdir(parent)).toEqual(['store']);
    const listed = [];
    for await (const entry of store.list('')) listed.push(entry.key);
    expect(listed).toEqual(['...', '..\\..\\x', '.hidden', 'a\\b', 'x~lock', 'y~tmp~1~2', 'z~']);
  });

  it('lists neither temp files, lock files nor foreign files, and reads from a missing root as empty', async () => {
    const store = new FsStore({ root });
    expect(await store.get('k')).toBeUndefined();
    for await (const entry of store.list('')) expect.unreachable(`listed ${entry.key}`);
    await store.put('dir/k', bytes('v'));
    // What a crashed writer leaves behind, and what a user might drop into the folder.
    await writeFile(join(root, 'dir~', 'k~tmp~123~abcdef'), 'half-written');
    await writeFile(join(root, 'dir~', 'other~lock'), '{}');
    await writeFile(join(root, 'README.txt'), 'not an object: upper case is never a literal in a name');
    const listed = [];
    for await (const entry of store.list('')) listed.push(entry.key);
    expect(listed).toEqual(['dir/k']);
    await store.put('dir/k', bytes('w')); // a leftover temp file does not get in the way
    expect(str(await store.get('dir/k'))).toBe('w');
  });

  it('reports a directory or a FIFO where an object file should be as "permanent", naming it', async () => {
    const store = new FsStore({ root });
    await store.put('k', bytes('v'));
    await mkdir(join(root, 'intruder'));
    await expect(store.get('intruder')).rejects.toThrow(`${join(root, 'intruder')} is not a regular file`);
    expect(await kindOf(store.get('intruder', { offset: 0, length: 1 }))).toBe('permanent');
    expect(await kindOf(store.put('intruder', bytes('x')))).toBe('permanent');
    expect(await kindOf(store.put('intruder', bytes('x'), { ifNoneMatch: '*' }))).toBe('permanent');
    // A FIFO: opened without waiting for a writer (O_NONBLOCK), then refused.
    if (spawnSync('mkfifo', [join(root, 'fifo')]).status === 0) {
      await expect(store.get('fifo')).rejects.toThrow(`${join(root, 'fifo')} is not a regular file`);
    }
  });

  it('maps file-system errors to kinds, keeping the original error as cause', async () => {
    await writeFile(root, 'a file where the root folder should be');
    const store = new FsStore({ root, name: 'blocked' });
    const error = await store.put('k', bytes('v')).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'permanent'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/^@blockvfs\/store-fs \(blocked\): put "k" failed/);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toMatch(/^(EEXIST|ENOTDIR)$/);
    expect(await kindOf(store.get('k'))).toBe('permanent'); // ENOTDIR, not "missing"
  });

  it('leaves empty directories behind after delete, and they do not show in listings', async () => {
    const store = new FsStore({ root });
    await store.put('x/y/z', bytes('v'));
    await store.delete(['x/y/z']);
    expect(await tree(root)).toEqual(['blockvfs~format', 'x~', 'x~/y~']);
    for await (const entry of store.list('')) expect.unreachable(`listed ${entry.key}`);
  });

  it('rejects a bad root', () => {
    expect(() => new FsStore({ root: '' })).toThrow(/root must be a non-empty path/);
  });
});

describe('FsStore per-key locks', () => {
  const lockFile = () => join(root, 'k~lock');
  const old = async (path: string, ageMs: number) => {
    const when = (Date.now() - ageMs) / 1000;
    await utimes(path, when, when);
  };
  /** A pid that is not running: a child that has exited. */
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

  it('waits for a live lock, then gives up with kind "transient"', async () => {
    // Margins wide enough for a loaded machine: the lock must stay between lockStaleMs and 6 × lockStaleMs old.
    const store = new FsStore({ root, lockTimeoutMs: 200, lockStaleMs: 1000 });
    const { etag } = await store.put('k', bytes('v1'));
    await writeFile(lockFile(), JSON.stringify({ pid: process.pid, host: hostname(), id: 'held' }));
    await old(lockFile(), 1500); // older than lockStaleMs (not 6 × lockStaleMs), but its owner (this process) is alive
    const started = Date.now();
    const error = await store.put('k', bytes('v2'), { ifMatch: etag }).catch((e: unknown) => e);
    expect(isBlockVfsError(error, 'transient'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`held by pid ${process.pid}`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await kindOf(store.delete(['k']))).toBe('transient');
    expect(str(await store.get('k'))).toBe('v1');
  });

  it('breaks a stale lock whose owner is gone', async () => {
    const store = new FsStore({ root, lockStaleMs: 100 });
    const { etag } = await store.put('k', bytes('v1'));
    await writeFile(lockFile(), JSON.stringify({ pid: deadPid(), host: hostname(), id: 'dead' }));
    await old(lockFile(), 1000);
    await store.put('k', bytes('v2'), { ifMatch: etag });
    expect(str(await store.get('k'))).toBe('v2');
    expect(await tree(root)).toEqual(['blockvfs~format', 'k']);
  });

  it('breaks an empty lock file (its creator died before writing it) once stale', async () => {
    const store = new FsStore({ root, lockStaleMs: 100 });
    await store.put('k', bytes('v1'));
    await writeFile(lockFile(), '');
    await old(lockFile(), 1000);
    await store.delete(['k']);
    expect(await store.get('k')).toBeUndefined();
  });

  it("respects another host's lock until it is much older than lockStaleMs", async () => {
    const store = new FsStore({ root, lockStaleMs: 100, lockTimeoutMs: 150 });
    await store.put('k', bytes('v1'));
    await writeFile(lockFile(), JSON.stringify({ pid: 1, host: 'elsewhere', id: 'remote' }));
    await old(lockFile(), 300); // stale, but the owner cannot be checked from here
    expect(await kindOf(store.put('k', bytes('v2')))).toBe('transient');
    await old(lockFile(), 700); // older than 6 × lockStaleMs: broken whatever the owner
    await store.put('k', bytes('v3'));
    expect(str(await store.get('k'))).toBe('v3');
  });

  it('does not take a lock for create-if-absent (link is atomic by itself)', async () => {
    const store = new FsStore({ root, lockTimeoutMs: 50 });
    await store.put('seed', bytes('x')); // creates the root
    await writeFile(join(root, 'k~lock'), JSON.stringify({ pid: process.pid, host: hostname(), id: 'held' }));
    await store.put('k', bytes('v'), { ifNoneMatch: '*' });
    expect(str(await store.get('k'))).toBe('v');
    expect((await stat(join(root, 'k~lock'))).isFile()).toBe(true);
  });
});
