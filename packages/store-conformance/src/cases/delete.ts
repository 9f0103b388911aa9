import assert from 'node:assert/strict';
import { forEachLimit } from '@blockvfs/core/store';
import { assertBytes, text } from '../bytes.js';
import { listKeys } from '../expect.js';
import type { Harness } from '../harness.js';

export function deleteCases(h: Harness): void {
  h.group('delete', () => {
    h.case('deletes the keys given and only those', async (store) => {
      for (const key of ['d/1', 'd/2', 'd/3', 'd/33', 'd']) await store.put(key, text(key));
      await store.delete(['d/2', 'd/3']);
      assert.equal(await store.get('d/2'), undefined);
      assert.equal(await store.get('d/3'), undefined);
      assert.deepEqual(await listKeys(store, ''), ['d', 'd/1', 'd/33']);
      assertBytes(await store.get('d/33'), text('d/33'), 'a key sharing a prefix with a deleted one');
    });

    h.case('deleting missing keys, an empty list or the same key twice is fine', async (store) => {
      await store.delete([]);
      await store.delete(['never-written', 'nor/this/one']);
      await store.put('k', text('k'));
      await store.delete(['k', 'k', 'missing']);
      assert.equal(await store.get('k'), undefined);
      await store.delete(['k']);
      assert.deepEqual(await listKeys(store, ''), []);
    });

    h.case('deletes more than 1000 keys in one call', async (store, scale) => {
      const keys = Array.from({ length: scale.deleteKeys }, (_, i) => `many/${i}`);
      await forEachLimit(keys, 32, async (key) => {
        await store.put(key, text(key));
      });
      await store.put('keep', text('keep'));
      const doomed = [...keys, 'many/not-there'];
      await store.delete(doomed);
      assert.deepEqual(await listKeys(store, ''), ['keep'], `all ${keys.length} keys gone, the other one kept`);
    });

    h.case('a deleted key can be written again', async (store) => {
      await store.put('k', text('one'));
      await store.delete(['k']);
      await store.put('k', text('two'));
      assertBytes(await store.get('k'), text('two'), 'rewritten');
    });
  });
}
