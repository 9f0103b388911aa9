import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBlockVfsError } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderError } from '../src/errors.js';
import { checkTimeKept } from '../src/object-file.js';

const bytes = (value: string) => new TextEncoder().encode(value);
const str = (value: Uint8Array | undefined) => (value === undefined ? undefined : new TextDecoder().decode(value));
const random = (length: number) => Uint8Array.from({ length }, () => Math.floor(Math.random() * 256));

/** The error a promise rejects with (or 'no error'). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'no error',
    (error: unknown) => error,
  );
}

let parent: string;
let root: string;
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'blockvfs-fs-format-'));
  root = join(parent, 'store');
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('object files (format 2)', () => {
  it('holds the bytes alone: a 4,096-byte object is a 4,096-byte file in one file-system block', async () => {
    const store = new FsStore({ root });
    const block = random(4096); // random: a compressing file system could not shrink it
    await store.put('db/0000000000', block);
    const file = join(root, 'db~', '0000000000');
    expect(new Uint8Array(await readFile(file))).toEqual(block);
    const { size, blocks, blksize } = await stat(file);
    expect(size).toBe(4096);
    // st_blocks counts 512-byte units: 8 of them, one 4 KiB block on ext4 (format 1's 4,120-byte file took 16).
    expect(blocks * 512).toBeLessThanOrEqual(Math.max(4096, blksize));
  });

  it('serves bytes that begin like a format 1 header as they are', async () => {
    const store = new FsStore({ root });
    const looksLikeHeader = Buffer.concat([Buffer.from('BVFSOBJ1', 'latin1'), createHash('md5').update('x').digest(), Buffer.from('x')]);
    await store.put('k', looksLikeHeader);
    expect(Buffer.from((await store.get('k')) as Uint8Array)).toEqual(looksLikeHeader);
  });

  it('makes the etag from inode, size and a random mtime to the microsecond, which this file system keeps', async () => {
    const store = new FsStore({ root });
    const subMillisecond = [];
    for (let i = 0; i < 5; i++) {
      const { etag } = await store.put('k', bytes('hello'));
      const { ino, size, mtimeNs } = await stat(join(root, 'k'), { bigint: true });
      expect(etag).toBe(`${ino.toString(16)}-${size.toString(16)}-${mtimeNs.toString(16)}`);
      // Not a whole second, nor a whole millisecond: the random part was kept to the microsecond.
      subMillisecond.push(mtimeNs % 1_000_000n);
      // Within the current second (the random instant is in the second of the put).
      expect(Math.abs(Number(mtimeNs / 1_000_000n) - Date.now())).toBeLessThan(2000);
    }
    expect(
      subMillisecond.some((ns) => ns !== 0n),
      String(subMillisecond),
    ).toBe(true);
  });

  it('gives a new etag to every rewrite of the same bytes, inode reuse or not', async () => {
    const store = new FsStore({ root });
    const block = random(4096);
    const etags = new Set<string>();
    const inodes = new Set<bigint>();
    const rewrites = 100;
    for (let i = 0; i < rewrites; i++) {
      const { etag } = await store.put('k', block);
      etags.add(etag);
      inodes.add((await stat(join(root, 'k'), { bigint: true })).ino);
      let listed;
      for await (const entry of store.list('k')) listed = entry;
      expect(listed).toEqual({ key: 'k', size: 4096, etag });
    }
    expect(etags.size).toBe(rewrites);
    // On ext4 a freed inode number comes back at once: the etags differ thanks to the mtime alone.
    console.log(`${rewrites} rewrites of one key used ${inodes.size} inode numbers`);
  });

  it('refuses ifMatch with a stale etag after rewrites of the same bytes, and takes the current one', async () => {
    const store = new FsStore({ root });
    const block = random(4096);
    const first = await store.put('k', block);
    const second = await store.put('k', block, { ifMatch: first.etag });
    const third = await store.put('k', block, { ifMatch: second.etag }); // likely on the first one's inode again
    for (const stale of [first.etag, second.etag]) {
      const error = await failure(store.put('k', random(4096), { ifMatch: stale }));
      expect(isBlockVfsError(error, 'precondition-failed'), String(error)).toBe(true);
    }
    expect(new Uint8Array((await store.get('k')) as Uint8Array)).toEqual(block);
    await store.put('k', bytes('next'), { ifMatch: third.etag });
    expect(str(await store.get('k'))).toBe('next');
  });

  it('refuses a file system that does not keep the mtime to the microsecond', () => {
    const set = 1_796_591_377_002_943_277n;
    expect(() => checkTimeKept('/x/k~tmp', set, set)).not.toThrow();
    expect(() => checkTimeKept('/x/k~tmp', set, set - 277n)).not.toThrow(); // kept to the microsecond
    for (const coarse of [set - (set % 1_000_000_000n), set - (set % 10_000_000n), set - (set % 1_000_000n)]) {
      expect(() => checkTimeKept('/x/k~tmp', set, coarse)).toThrow(FolderError);
    }
    expect(() => checkTimeKept('/x/k~tmp', set, set - (set % 1_000_000_000n))).toThrow(/etags need file times kept to the microsecond/);
  });
});

describe('the format marker', () => {
  /** A folder as format 1 left it: objects with the 24-byte header, no marker. */
  async function formatOneRoot(): Promise<void> {
    const header = (data: string) => Buffer.concat([Buffer.from('BVFSOBJ1', 'latin1'), createHash('md5').update(data).digest(), Buffer.from(data)]);
    await mkdir(join(root, 'notes.db~'), { recursive: true });
    await writeFile(join(root, 'notes.db~', '0000000000'), header('page 0'));
    await writeFile(join(root, 'k'), header('v'));
    await mkdir(join(root, '%44b~'));
    await writeFile(join(root, '%44b~', '%C3%A9'), header('escaped')); // key "Db/é"
  }

  it('is written by the first put, before the object, and says format 2', async () => {
    const store = new FsStore({ root });
    await store.get('k'); // reads do not make the root
    expect(await readdir(parent)).toEqual([]);
    await store.put('a/b', bytes('v'));
    expect(await readFile(join(root, 'blockvfs~format'), 'utf8')).toBe('blockvfs-fs format 2\n');
  });

  it('refuses a format 1 folder for every request, saying how to migrate, and writes nothing into it', async () => {
    await formatOneRoot();
    const store = new FsStore({ root });
    const requests = {
      get: () => store.get('k'),
      'ranged get': () => store.get('notes.db/0000000000', { offset: 0, length: 4 }),
      put: () => store.put('new', bytes('v')),
      'create-if-absent': () => store.put('notes.db/0000000001', bytes('v'), { ifNoneMatch: '*' }),
      delete: () => store.delete(['k']),
      list: async () => {
        for await (const entry of store.list('')) void entry;
      },
    };
    for (const [what, request] of Object.entries(requests)) {
      const error = await failure(request());
      expect(isBlockVfsError(error, 'permanent'), `${what}: ${String(error)}`).toBe(true);
      expect((error as Error).message, what).toMatch(
        /but no blockvfs~format file: the folder was written by @blockvfs\/store-fs format 1 .*"Format 1 folders" in the README/,
      );
    }
    expect((await readdir(root, { recursive: true })).sort()).toEqual(['%44b~', '%44b~/%C3%A9', 'k', 'notes.db~', 'notes.db~/0000000000']);
  });

  it('takes a folder holding only foreign entries (lost+found, README.TXT) as a new root', async () => {
    await mkdir(join(root, 'lost+found'), { recursive: true });
    await writeFile(join(root, 'README.TXT'), 'upper case is never in a name FsStore writes');
    const store = new FsStore({ root });
    await store.put('k', bytes('v'));
    expect(str(await store.get('k'))).toBe('v');
    expect((await readdir(root)).sort()).toEqual(['README.TXT', 'blockvfs~format', 'k', 'lost+found']);
  });

  it("reads a folder migrated from format 1 with the README's recipe: headers stripped, then the marker", async () => {
    await formatOneRoot();
    await writeFile(join(root, 'k~tmp~123~abcdef'), 'a temp file left by a crash: not an object, left alone');
    // Copied from the README ("Format 1 folders").
    const recipe = `cd "$ROOT" && LC_ALL=C find . -type f ! -name '*[!a-z0-9._%A-F-]*' -exec sh -c 'for f; do tail -c +25 "$f" > "$f~migrate" && mv "$f~migrate" "$f"; done' sh {} + && printf 'blockvfs-fs format 2\\n' > blockvfs~format`;
    const run = spawnSync('sh', ['-c', recipe], { env: { ...process.env, ROOT: root }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const store = new FsStore({ root });
    expect(str(await store.get('notes.db/0000000000'))).toBe('page 0');
    expect(str(await store.get('k'))).toBe('v');
    expect(str(await store.get('Db/é'))).toBe('escaped');
    expect(await readFile(join(root, 'k~tmp~123~abcdef'), 'utf8')).toMatch(/^a temp file/);
  });

  it('refuses a marker of another format', async () => {
    await mkdir(root);
    await writeFile(join(root, 'blockvfs~format'), 'blockvfs-fs format 3\n');
    const error = await failure(new FsStore({ root }).put('k', bytes('v')));
    expect(isBlockVfsError(error, 'permanent'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/blockvfs~format says "blockvfs-fs format 3\\n", not "blockvfs-fs format 2\\n"/);
  });

  it('is written once when processes mark a new root at the same time (stores in one process here)', async () => {
    const stores = Array.from({ length: 8 }, () => new FsStore({ root }));
    await Promise.all(stores.map((store, i) => store.put(`k${i}`, bytes(String(i)))));
    expect((await readdir(root)).filter((name) => name.startsWith('blockvfs~'))).toEqual(['blockvfs~format']);
    for (const [i, store] of stores.entries()) expect(str(await store.get(`k${(i + 1) % 8}`))).toBe(String((i + 1) % 8));
  });
});
