import assert from 'node:assert/strict';
import { assertBytes, randomBytes, text } from '../bytes.js';
import { listAll, listKeys, rejectsWithKind } from '../expect.js';
import type { Harness } from '../harness.js';

/** Keys with characters a store has to carry through its provider's encoding (URLs, paths). */
export const AWKWARD_KEYS = [
  'plain',
  'Upper/Case',
  'upper/case',
  'with space/and  two',
  'percent%41%2F',
  'plus+equals=amp&hash#question?',
  "tilde~bang!star*quote'paren(s)",
  'comma,semi;colon:at@dollar$',
  'dots.and-dashes_under',
  'unicode/é/日本/ü',
  `long/${'x'.repeat(150)}`,
  'deep/1/2/3/4/5/6/7/8/leaf',
] as const;

export function objectCases(h: Harness): void {
  h.group('objects', () => {
    h.case('a fresh store is empty and describes itself', async (store) => {
      assert.equal(typeof store.name, 'string');
      assert.ok(store.name.length > 0, 'store.name must be non-empty: it prefixes every error message');
      const { capabilities } = store;
      assert.equal(typeof capabilities.conditionalPut, 'boolean', 'capabilities.conditionalPut');
      assert.equal(typeof capabilities.rangeGet, 'boolean', 'capabilities.rangeGet');
      assert.ok(
        Number.isSafeInteger(capabilities.maxDeleteBatch) && capabilities.maxDeleteBatch >= 1,
        'capabilities.maxDeleteBatch must be a positive integer',
      );
      assert.deepEqual(await listKeys(store, ''), [], 'createStore must return an empty store (list("") found objects)');
    });

    h.case('round-trips an empty object', async (store) => {
      const { etag } = await store.put('empty', new Uint8Array(0));
      assertEtag(etag, 'put');
      assertBytes(await store.get('empty'), new Uint8Array(0), 'get of an empty object (must be an empty array, not undefined)');
      const [entry] = await listAll(store, 'empty');
      assert.deepEqual(entry && { key: entry.key, size: entry.size }, { key: 'empty', size: 0 });
    });

    h.case('round-trips small objects, every byte value included', async (store) => {
      const oneByte = Uint8Array.of(0);
      const allValues = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
      const block = randomBytes(4096, 1);
      await store.put('small/one', oneByte);
      await store.put('small/all', allValues);
      await store.put('small/block', block);
      assertBytes(await store.get('small/one'), oneByte, 'one byte');
      assertBytes(await store.get('small/all'), allValues, '512 bytes with every value');
      assertBytes(await store.get('small/block'), block, '4 KiB');
    });

    h.case('round-trips a multi-megabyte object byte for byte', async (store, scale) => {
      const big = randomBytes(scale.bigObjectBytes, 2);
      const { etag } = await store.put('big', big);
      assertEtag(etag, 'put');
      assertBytes(await store.get('big'), big, `${scale.bigObjectBytes}-byte object`);
      const [entry] = await listAll(store, 'big');
      assert.equal(entry?.size, scale.bigObjectBytes, 'listed size');
    });

    h.case('overwrites: a shorter object replaces a longer one entirely, and the etag changes', async (store) => {
      const first = randomBytes(10_000, 3);
      const second = randomBytes(100, 4);
      const a = await store.put('k', first);
      const b = await store.put('k', second);
      assertBytes(await store.get('k'), second, 'after overwrite (no leftover bytes of the first version)');
      assert.notEqual(b.etag, a.etag, 'different content must have a different etag');
      const entries = await listAll(store, 'k');
      assert.equal(entries.length, 1, 'an overwritten key is listed once');
      assert.equal(entries[0]?.size, 100);
    });

    h.case('a missing key gives undefined, also next to keys that share its prefix', async (store) => {
      assert.equal(await store.get('nothing'), undefined);
      await store.put('dir/file', text('x'));
      assert.equal(await store.get('dir'), undefined, '"dir" when only "dir/file" exists');
      assert.equal(await store.get('dir/file/deeper'), undefined, '"dir/file/deeper" when "dir/file" is an object');
      assert.equal(await store.get('dir/fil'), undefined, 'a strict prefix of a key');
      assert.equal(await store.get('dir/file2'), undefined, 'a key extending another');
    });

    h.case('a key and the same key plus "/…" are independent objects', async (store) => {
      const keys = ['a', 'a/b', 'a/b/c', 'a-b', 'a.b'];
      for (const key of keys) await store.put(key, text(`content of ${key}`));
      for (const key of keys) assertBytes(await store.get(key), text(`content of ${key}`), key);
      await store.delete(['a/b']);
      assert.equal(await store.get('a/b'), undefined);
      assertBytes(await store.get('a'), text('content of a'), '"a" after deleting "a/b"');
      assertBytes(await store.get('a/b/c'), text('content of a/b/c'), '"a/b/c" after deleting "a/b"');
      await store.put('a/b', text('again'));
      await store.delete(['a']);
      assertBytes(await store.get('a/b'), text('again'), '"a/b" after deleting "a"');
    });

    h.case('keys with spaces, punctuation, upper case and non-ASCII round-trip and list as themselves', async (store) => {
      for (const [i, key] of AWKWARD_KEYS.entries()) await store.put(key, text(`${i}:${key}`));
      for (const [i, key] of AWKWARD_KEYS.entries()) assertBytes(await store.get(key), text(`${i}:${key}`), JSON.stringify(key));
      const listed = await listKeys(store, '');
      assert.deepEqual(new Set(listed), new Set(AWKWARD_KEYS), 'list gives back exactly the keys written');
    });

    h.case('put copies its input, and get returns a copy of its own', async (store) => {
      const original = randomBytes(1000, 5);
      const input = original.slice();
      await store.put('k', input);
      input.fill(0xee); // the caller reuses its buffer right after put resolved
      assertBytes(await store.get('k'), original, 'after the caller overwrote the buffer it passed to put');
      const read = await store.get('k');
      read?.fill(0x11);
      const ranged = await store.get('k', { offset: 10, length: 20 });
      ranged?.fill(0x22);
      assertBytes(await store.get('k'), original, 'after the caller overwrote arrays returned by get');
    });

    h.case('rejects an empty key with kind "invalid"', async (store) => {
      await rejectsWithKind(store, store.put('', text('x')), 'invalid', 'put("")');
      await rejectsWithKind(store, store.get(''), 'invalid', 'get("")');
      await rejectsWithKind(store, store.delete(['']), 'invalid', 'delete([""])');
      assert.deepEqual(await listKeys(store, ''), [], 'nothing was written');
    });
  });
}

export function assertEtag(etag: unknown, what: string): void {
  assert.equal(typeof etag, 'string', `${what}: etag must be a string`);
  assert.ok((etag as string).length > 0, `${what}: etag must be non-empty`);
}
