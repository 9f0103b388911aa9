import assert from 'node:assert/strict';
import { assertBytes, randomBytes } from '../bytes.js';
import { rejectsWithKind } from '../expect.js';
import type { Harness } from '../harness.js';

export function rangeCases(h: Harness): void {
  h.group('ranges', () => {
    h.case('reads ranges at the edges of an object, clipped to its end', async (store) => {
      const size = 1000;
      const data = randomBytes(size, 10);
      await store.put('r', data);
      const read = (offset: number, length?: number) => store.get('r', length === undefined ? { offset } : { offset, length });
      assertBytes(await read(0, 10), data.subarray(0, 10), 'first 10 bytes');
      assertBytes(await read(0), data, 'offset 0 without length: the whole object');
      assertBytes(await read(0, size), data, 'exactly the whole object');
      assertBytes(await read(123, 456), data.subarray(123, 579), 'a middle range');
      assertBytes(await read(size - 1, 1), data.subarray(size - 1), 'the last byte');
      assertBytes(await read(size - 1), data.subarray(size - 1), 'from the last byte to the end');
      assertBytes(await read(990, 100), data.subarray(990), 'a length past the end is clipped');
      assertBytes(await read(10, Number.MAX_SAFE_INTEGER - 10), data.subarray(10), 'a huge length is clipped');
      assertBytes(await read(size, 10), new Uint8Array(0), 'offset at the end: an empty array');
      assertBytes(await read(size), new Uint8Array(0), 'offset at the end, no length: an empty array');
      assertBytes(await read(size + 100, 10), new Uint8Array(0), 'offset past the end: an empty array');
      assertBytes(await read(5, 0), new Uint8Array(0), 'length 0: an empty array');
    });

    h.case('a range of an empty object is empty, a range of a missing key is undefined', async (store) => {
      await store.put('empty', new Uint8Array(0));
      assertBytes(await store.get('empty', { offset: 0 }), new Uint8Array(0), 'empty object, offset 0');
      assertBytes(await store.get('empty', { offset: 0, length: 10 }), new Uint8Array(0), 'empty object, 10 bytes');
      assert.equal(await store.get('missing', { offset: 0, length: 10 }), undefined, 'missing key');
      assert.equal(await store.get('missing', { offset: 100 }), undefined, 'missing key, offset past nothing');
    });

    h.case('reads a range deep inside a large object', async (store, scale) => {
      const big = randomBytes(scale.bigObjectBytes, 11);
      await store.put('big', big);
      const offset = Math.floor(scale.bigObjectBytes / 2) + 3;
      const length = Math.min(300_000, scale.bigObjectBytes - offset);
      assertBytes(await store.get('big', { offset, length }), big.subarray(offset, offset + length), `${length} bytes at ${offset}`);
      assertBytes(await store.get('big', { offset: scale.bigObjectBytes - 7 }), big.subarray(scale.bigObjectBytes - 7), 'the tail');
    });

    h.case('rejects a negative or fractional range with kind "invalid"', async (store) => {
      await store.put('r', randomBytes(100, 12));
      await rejectsWithKind(store, store.get('r', { offset: -1, length: 10 }), 'invalid', 'offset -1');
      await rejectsWithKind(store, store.get('r', { offset: 1.5 }), 'invalid', 'offset 1.5');
      await rejectsWithKind(store, store.get('r', { offset: 0, length: -1 }), 'invalid', 'length -1');
    });
  });
}
