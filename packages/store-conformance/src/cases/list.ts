import assert from 'node:assert/strict';
import { forEachLimit, type BlockStore } from '@blockvfs/core/store';
import { text } from '../bytes.js';
import { assertKeys, listAll, listKeys, sortedKeys } from '../expect.js';
import type { Harness } from '../harness.js';

/**
 * Keys whose lexicographic order differs from what a store gets by listing directories
 * depth-first, sorting path names or sorting numbers: '-' (0x2D) and '.' (0x2E) sort
 * before '/' (0x2F), which sorts before digits; upper case before lower case; unpadded
 * numbers sort as text; é and 日 after every ASCII character.
 */
const TRICKY_KEYS = [
  'a',
  'a-b',
  'a.b',
  'a/b',
  'a/b/c',
  'a/b-c',
  'a/b.c',
  'a/bc',
  'a/b/c/d',
  'a0',
  'a_b',
  'ab',
  'aé',
  'a日',
  'A',
  'B',
  'Z/z',
  'b',
  'z',
  '0',
  '1',
  '10',
  '100',
  '1/0',
  '1-0',
  '2',
  '9',
  '09',
];

/** Bulk keys with unpadded numbers, so that their order as text is not their numeric order. */
function bulkKey(i: number): string {
  return `bulk/${i}`;
}

/** Writes `keys` (content = the key itself) with some parallelism, returning each key's etag. */
async function writeKeys(store: BlockStore, keys: readonly string[]): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  await forEachLimit(keys, 32, async (key) => {
    const { etag } = await store.put(key, text(key));
    etags.set(key, etag);
  });
  return etags;
}

export function listCases(h: Harness): void {
  h.group('list', () => {
    h.case('lists thousands of keys in lexicographic order, by prefix and after a key, with size and etag', async (store, scale) => {
      const bulk = Array.from({ length: Math.max(0, scale.listKeys - TRICKY_KEYS.length) }, (_, i) => bulkKey(i));
      const all = [...TRICKY_KEYS, ...bulk];
      const etags = await writeKeys(store, all);
      const expected = sortedKeys(all);

      const entries = await listAll(store, '');
      assertKeys(
        entries.map((entry) => entry.key),
        expected,
        'list("")',
      );
      for (const entry of entries) {
        assert.equal(entry.size, text(entry.key).length, `size of ${entry.key}`);
        assert.equal(entry.etag, etags.get(entry.key), `etag of ${entry.key} must be the one put returned`);
      }

      const byPrefix = async (prefix: string, startAfter?: string) => {
        const got = await listKeys(store, prefix, startAfter === undefined ? {} : { startAfter });
        const want = expected.filter((key) => key.startsWith(prefix) && (startAfter === undefined || key > startAfter));
        assertKeys(got, want, `list(${JSON.stringify(prefix)}${startAfter === undefined ? '' : `, startAfter ${JSON.stringify(startAfter)}`})`);
        return got;
      };
      assert.ok((await byPrefix('a')).length > 5);
      await byPrefix('a/');
      await byPrefix('a/b');
      await byPrefix('a/b/');
      await byPrefix('1');
      assert.ok((await byPrefix('bulk/1')).includes(bulkKey(10)), 'prefix "bulk/1" includes "bulk/10"');
      await byPrefix('bulk/');
      await byPrefix('A');
      await byPrefix('a日');

      // startAfter on an existing key, on a key that does not exist, and around the prefix region.
      const middle = expected[Math.floor(expected.length / 2)] ?? '';
      await byPrefix('', middle);
      await byPrefix('', `${middle}\u0000`);
      await byPrefix('bulk/', bulkKey(1234));
      await byPrefix('bulk/', 'bulk/12345x'); // between keys, not a key
      await byPrefix('bulk/', 'bulk/'); // the prefix itself
      await byPrefix('bulk/', 'a'); // before the whole region
      assert.deepEqual(await byPrefix('bulk/', 'bulk0'), [], 'startAfter past the whole region');
      await byPrefix('a', 'a/');
      await byPrefix('a/b', 'a/b');
      await byPrefix('', 'a/b/c');
      assert.deepEqual(await byPrefix('', expected.at(-1)), [], 'startAfter the last key');
    });

    h.case('a prefix with no keys lists nothing, also between and after existing keys', async (store) => {
      await writeKeys(store, ['m/1', 'm/2', 'o/1']);
      for (const prefix of ['n', 'n/', 'm/3', 'm/1/', 'zzz', 'm//', '.', 'M']) {
        assert.deepEqual(await listKeys(store, prefix), [], `list(${JSON.stringify(prefix)})`);
      }
      assert.deepEqual(await listKeys(store, 'm/', { startAfter: 'm/2' }), []);
    });

    h.case('stopping a listing early is fine, and a new listing starts over', async (store, scale) => {
      const keys = Array.from({ length: Math.min(scale.listKeys, 1500) }, (_, i) => `p/${String(i).padStart(5, '0')}`);
      await writeKeys(store, keys);
      let seen = 0;
      for await (const entry of store.list('p/')) {
        assert.equal(entry.key, keys[seen]);
        if (++seen === 3) break;
      }
      const resumed = await listKeys(store, 'p/', { startAfter: keys[2] });
      assertKeys(resumed, keys.slice(3), 'continuing after the last key seen');
    });

    h.case('lists what is there at the time: new keys appear, deleted keys do not', async (store) => {
      await writeKeys(store, ['l/1', 'l/2', 'l/3']);
      await store.delete(['l/2']);
      await store.put('l/4', text('l/4'));
      assert.deepEqual(await listKeys(store, 'l/'), ['l/1', 'l/3', 'l/4']);
    });
  });
}
