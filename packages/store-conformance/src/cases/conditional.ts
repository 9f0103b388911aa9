import assert from 'node:assert/strict';
import { assertBytes, randomBytes, text } from '../bytes.js';
import { assertBlockVfsError, listAll, rejectsWithKind } from '../expect.js';
import type { Harness } from '../harness.js';
import { assertEtag } from './objects.js';

const CONDITIONAL = { capability: 'conditionalPut', value: true } as const;

export function conditionalCases(h: Harness): void {
  h.group('conditional put (capabilities.conditionalPut)', () => {
    h.case(
      'ifNoneMatch "*" creates an absent key',
      async (store) => {
        const data = randomBytes(300, 20);
        const { etag } = await store.put('c', data, { ifNoneMatch: '*' });
        assertEtag(etag, 'create-if-absent');
        assertBytes(await store.get('c'), data, 'created');
        const [entry] = await listAll(store, 'c');
        assert.equal(entry?.etag, etag, 'the listed etag is the one put returned');
      },
      CONDITIONAL,
    );

    h.case(
      'ifNoneMatch "*" on a present key fails with "precondition-failed" and leaves it untouched',
      async (store) => {
        const first = randomBytes(300, 21);
        const { etag } = await store.put('c', first);
        await rejectsWithKind(store, store.put('c', randomBytes(300, 22), { ifNoneMatch: '*' }), 'precondition-failed', 'create over an existing key');
        await rejectsWithKind(store, store.put('c', first, { ifNoneMatch: '*' }), 'precondition-failed', 'create over an existing key with identical bytes');
        assertBytes(await store.get('c'), first, 'content after the failed create');
        assert.equal((await listAll(store, 'c'))[0]?.etag, etag, 'etag after the failed create');
      },
      CONDITIONAL,
    );

    h.case(
      'ifNoneMatch "*" succeeds again once the key was deleted, and on an empty object',
      async (store) => {
        await store.put('c', text('one'), { ifNoneMatch: '*' });
        await store.delete(['c']);
        await store.put('c', text('two'), { ifNoneMatch: '*' });
        assertBytes(await store.get('c'), text('two'), 're-created');
        await store.put('e', new Uint8Array(0), { ifNoneMatch: '*' });
        await rejectsWithKind(store, store.put('e', text('x'), { ifNoneMatch: '*' }), 'precondition-failed', 'an empty object exists too');
      },
      CONDITIONAL,
    );

    h.case(
      'ifMatch with the current etag replaces the object and returns a new etag',
      async (store) => {
        const v1 = await store.put('m', text('version 1'));
        const v2 = await store.put('m', text('version 2'), { ifMatch: v1.etag });
        assertEtag(v2.etag, 'ifMatch put');
        assert.notEqual(v2.etag, v1.etag, 'new content, new etag');
        assertBytes(await store.get('m'), text('version 2'), 'replaced');
        const v3 = await store.put('m', text('version 3'), { ifMatch: v2.etag });
        assertBytes(await store.get('m'), text('version 3'), 'chained replace with the returned etag');
        assert.equal((await listAll(store, 'm'))[0]?.etag, v3.etag, 'the listed etag is the latest');
      },
      CONDITIONAL,
    );

    h.case(
      'ifMatch with a stale etag fails with "precondition-failed" and leaves the object untouched',
      async (store) => {
        const v1 = await store.put('m', text('version 1'));
        const v2 = await store.put('m', text('version 2'));
        await rejectsWithKind(store, store.put('m', text('lost update'), { ifMatch: v1.etag }), 'precondition-failed', 'ifMatch with the previous etag');
        const other = await store.put('other', text('another object'));
        await rejectsWithKind(store, store.put('m', text('lost update'), { ifMatch: other.etag }), 'precondition-failed', "ifMatch with another object's etag");
        assertBytes(await store.get('m'), text('version 2'), 'content after the failed replaces');
        assert.equal((await listAll(store, 'm'))[0]?.etag, v2.etag, 'etag after the failed replaces');
      },
      CONDITIONAL,
    );

    h.case(
      'ifMatch on a missing key fails with "precondition-failed" and creates nothing',
      async (store) => {
        const other = await store.put('other', text('x'));
        await rejectsWithKind(store, store.put('m', text('y'), { ifMatch: other.etag }), 'precondition-failed', 'ifMatch on a key never written');
        await store.put('gone', text('x'));
        const gone = await store.put('gone', text('z'));
        await store.delete(['gone']);
        await rejectsWithKind(
          store,
          store.put('gone', text('y'), { ifMatch: gone.etag }),
          'precondition-failed',
          'ifMatch on a deleted key with its last etag',
        );
        assert.equal(await store.get('m'), undefined);
        assert.equal(await store.get('gone'), undefined);
      },
      CONDITIONAL,
    );
  });

  h.group('without conditional put', () => {
    h.case(
      'a condition the store cannot honour is refused, never applied as a plain put',
      async (store) => {
        await store.put('k', text('original'));
        let accepted = false;
        try {
          await store.put('k', text('overwritten'), { ifNoneMatch: '*' });
          accepted = true;
        } catch (error) {
          assertBlockVfsError(store, error, 'a conditional put on a store without conditionalPut');
        }
        assert.equal(accepted, false, 'the put with a condition must be refused');
        assertBytes(await store.get('k'), text('original'), 'content after the refused put');
      },
      { capability: 'conditionalPut', value: false },
    );
  });
}
