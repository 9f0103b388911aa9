import { tmpdir } from 'node:os';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isBlockVfsError } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Symbolic links planted inside the root, where an object file, a key directory, a lock
 * file or the format marker goes: every request is refused as "permanent", naming the
 * key and the link, and nothing outside the root changes (nor is the link removed).
 */

const bytes = (value: string) => new TextEncoder().encode(value);
const str = (value: Uint8Array | undefined) => (value === undefined ? undefined : new TextDecoder().decode(value));

let parent: string;
let root: string;
/** A folder outside the root, which links point into: it must come out of every test as it went in. */
let outside: string;
let before: Map<string, string>;

beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'blockvfs-fs-links-'));
  root = join(parent, 'store');
  outside = join(parent, 'outside');
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'secret'), 'outside file');
  await writeFile(join(outside, 'x'), 'outside x'); // what key "d/x" would be through a link d~ -> outside
  await writeFile(join(outside, 'dir', 'y'), 'outside dir/y');
  await new FsStore({ root }).put('seed', bytes('makes the root and its marker'));
});
afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

/** Every path under the outside folder with its content (or mtime for folders): what must not change. */
async function snapshot(): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const name of (await readdir(outside, { recursive: true })).sort()) {
    const path = join(outside, name);
    const stats = await stat(path);
    state.set(name, stats.isDirectory() ? `dir, mtime ${stats.mtimeMs}` : await readFile(path, 'utf8'));
  }
  return state;
}

async function plant(link: string, target: string): Promise<void> {
  await symlink(target, link);
  before = await snapshot();
}

/** The request must fail as permanent, naming `what` (e.g. `put "k"`) and the link. */
async function refused(request: Promise<unknown>, what: string, link: string): Promise<void> {
  const error = await request.then(
    () => 'no error',
    (e: unknown) => e,
  );
  expect(isBlockVfsError(error, 'permanent'), String(error)).toBe(true);
  expect((error as Error).message).toContain(`${what}: ${link} is a symbolic link; FsStore never follows symbolic links inside its root`);
}

async function listAll(store: FsStore, prefix: string, startAfter?: string): Promise<string[]> {
  const keys = [];
  for await (const entry of store.list(prefix, { startAfter })) keys.push(entry.key);
  return keys;
}

/** Nothing outside changed, and the link is still in place (not followed, not replaced, not removed). */
async function untouched(link: string, target: string): Promise<void> {
  expect(await snapshot()).toEqual(before);
  expect((await lstat(link)).isSymbolicLink()).toBe(true);
  expect(await readlink(link)).toBe(target);
}

describe('FsStore and symbolic links inside its root', () => {
  it('refuses a link at the place of an object file, for every request', async () => {
    const store = new FsStore({ root });
    const link = join(root, 'k');
    const target = join(outside, 'secret');
    await plant(link, target);
    await refused(store.get('k'), 'get "k"', link);
    await refused(store.get('k', { offset: 0, length: 3 }), 'get "k"', link);
    await refused(store.put('k', bytes('v')), 'put "k"', link);
    await refused(store.put('k', bytes('v'), { ifMatch: 'whatever' }), 'put "k"', link);
    await refused(store.put('k', bytes('v'), { ifNoneMatch: '*' }), 'put "k"', link); // not "already exists"
    await refused(store.delete(['k']), 'delete "k"', link);
    await refused(listAll(store, ''), 'list ""', link);
    await refused(listAll(store, 'k'), 'list "k"', link);
    await untouched(link, target);
    expect(await readdir(root)).toEqual(['blockvfs~format', 'k', 'seed']); // no temp or lock file left either
  });

  it('refuses a dangling link at the place of an object file, and does not make its target', async () => {
    const store = new FsStore({ root });
    const link = join(root, 'k');
    const target = join(outside, 'new-file');
    await plant(link, target);
    await refused(store.get('k'), 'get "k"', link);
    await refused(store.put('k', bytes('v')), 'put "k"', link);
    await refused(store.put('k', bytes('v'), { ifNoneMatch: '*' }), 'put "k"', link);
    await untouched(link, target);
  });

  it('refuses a link at the place of a key directory, for every request, and makes nothing through it', async () => {
    const store = new FsStore({ root });
    const link = join(root, 'd~');
    await plant(link, outside);
    await refused(store.get('d/x'), 'get "d/x"', link);
    await refused(store.get('d/x', { offset: 1 }), 'get "d/x"', link);
    await refused(store.get('d/dir/y'), 'get "d/dir/y"', link);
    await refused(store.put('d/x', bytes('v')), 'put "d/x"', link); // temp file, lock, rename: none through the link
    await refused(store.put('d/new', bytes('v'), { ifNoneMatch: '*' }), 'put "d/new"', link);
    await refused(store.put('d/x', bytes('v'), { ifMatch: 'whatever' }), 'put "d/x"', link);
    await refused(store.put('d/e/f', bytes('v')), 'put "d/e/f"', link); // no e~ made in the outside folder
    await refused(store.delete(['d/x']), 'delete "d/x"', link);
    await refused(listAll(store, 'd/'), 'list "d/"', link);
    await refused(listAll(store, 'd/dir/'), 'list "d/dir/"', link);
    await refused(listAll(store, ''), 'list ""', link); // the walk does not descend into it
    await untouched(link, outside);
  });

  it('refuses a link at the place of a deeper key directory', async () => {
    const store = new FsStore({ root });
    await store.put('a/k', bytes('v'));
    const link = join(root, 'a~', 'b~');
    await plant(link, outside);
    await refused(store.get('a/b/x'), 'get "a/b/x"', link);
    await refused(store.put('a/b/x', bytes('v')), 'put "a/b/x"', link);
    await refused(store.put('a/b/c/d', bytes('v')), 'put "a/b/c/d"', link);
    await refused(store.delete(['a/b/x']), 'delete "a/b/x"', link);
    await refused(listAll(store, 'a/'), 'list "a/"', link);
    expect(await listAll(store, 'a/k')).toEqual(['a/k']); // a listing that does not reach the link is fine
    await untouched(link, outside);
  });

  it('refuses a link at the place of a lock file at once, without reading its target', async () => {
    const store = new FsStore({ root, lockTimeoutMs: 60_000 });
    await store.put('k', bytes('v1'));
    const link = join(root, 'k~lock');
    const target = join(outside, 'secret');
    await plant(link, target);
    const started = Date.now();
    await refused(store.put('k', bytes('v2')), 'put "k"', link);
    await refused(store.put('k', bytes('v2'), { ifMatch: 'whatever' }), 'put "k"', link);
    await refused(store.delete(['k']), 'delete "k"', link);
    expect(Date.now() - started).toBeLessThan(10_000); // refused, not waited on as a held lock
    expect(str(await store.get('k'))).toBe('v1');
    await untouched(link, target);
  });

  it('refuses a dangling link at the place of a lock file, and does not make its target', async () => {
    const store = new FsStore({ root });
    const link = join(root, 'k~lock');
    const target = join(outside, 'lock-target');
    await plant(link, target);
    await refused(store.put('k', bytes('v')), 'put "k"', link);
    await refused(store.delete(['k']), 'delete "k"', link);
    await untouched(link, target);
  });

  it("lists past links with foreign names, and refuses one with an object's name when the listing reaches it", async () => {
    const store = new FsStore({ root });
    await store.put('a', bytes('1'));
    await store.put('z', bytes('2'));
    await symlink(join(outside, 'secret'), join(root, 'README.TXT')); // upper case: never a name FsStore writes
    await symlink(outside, join(root, 'Other~'));
    expect(await listAll(store, '')).toEqual(['a', 'seed', 'z']);
    const link = join(root, 'm');
    const target = join(outside, 'secret');
    await plant(link, target);
    await refused(listAll(store, ''), 'list ""', link);
    expect(await listAll(store, 'a')).toEqual(['a']); // listings that do not reach the link are fine
    expect(await listAll(store, '', 'm')).toEqual(['seed', 'z']);
    await untouched(link, target);
  });

  it('refuses a link at the place of the format marker', async () => {
    const fresh = join(parent, 'fresh');
    await mkdir(fresh);
    const link = join(fresh, 'blockvfs~format');
    const target = join(outside, 'secret');
    await plant(link, target);
    const store = new FsStore({ root: fresh });
    await refused(store.put('k', bytes('v')), 'put "k"', link);
    await refused(store.get('k'), 'get "k"', link);
    await untouched(link, target);
  });

  it("takes a root that is itself a link (the user's choice), resolved when the store is made", async () => {
    const real = join(parent, 'real');
    await mkdir(real);
    const linkedRoot = join(parent, 'linked-root');
    await symlink(real, linkedRoot);
    const store = new FsStore({ root: linkedRoot });
    expect(store.root).toBe(linkedRoot);
    await store.put('d/k', bytes('v'));
    expect(str(await store.get('d/k'))).toBe('v');
    expect(await listAll(store, '')).toEqual(['d/k']);
    expect((await readdir(real)).sort()).toEqual(['blockvfs~format', 'd~']);
    // Resolved once: pointing the link elsewhere later does not move the store.
    await rm(linkedRoot);
    await symlink(outside, linkedRoot);
    before = await snapshot();
    await store.put('d/k2', bytes('v'));
    expect((await readdir(join(real, 'd~'))).sort()).toEqual(['k', 'k2']);
    expect(await snapshot()).toEqual(before);
  });

  it("keeps working when a folder above the root becomes a link after the store was made (the user's business)", async () => {
    const above = join(parent, 'above');
    const store = new FsStore({ root: join(above, 'store') });
    await store.put('d/e/k', bytes('v'));
    await rename(above, join(parent, 'moved'));
    await symlink(join(parent, 'moved'), above);
    expect(str(await store.get('d/e/k'))).toBe('v'); // the quick check fails, the exact one passes
    await store.put('d/e/k2', bytes('w'));
    expect(await listAll(store, 'd/')).toEqual(['d/e/k', 'd/e/k2']);
  });
});
