import assert from 'node:assert/strict';
import type { BlockStore, PutCondition } from '@blockvfs/core/store';
import { assertBytes, randomBytes } from '../bytes.js';
import { assertBlockVfsError } from '../expect.js';
import type { Harness } from '../harness.js';

const CONDITIONAL = { capability: 'conditionalPut', value: true } as const;

/**
 * Starts every put at once (all promises created before any is awaited) and checks
 * that exactly one won and every other lost with precondition-failed, not some other
 * error. Returns the winner's index.
 */
async function race(store: BlockStore, key: string, payloads: readonly Uint8Array[], condition: PutCondition): Promise<{ winner: number; etag: string }> {
  const results = await Promise.allSettled(payloads.map((payload) => store.put(key, payload, condition)));
  const winners: number[] = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      winners.push(i);
      return;
    }
    assertBlockVfsError(store, result.reason, `racer ${i}`);
    assert.equal(result.reason.kind, 'precondition-failed', `racer ${i} lost with kind "${result.reason.kind}": ${result.reason.message}`);
  });
  assert.equal(winners.length, 1, `exactly one of ${payloads.length} racers must win, ${winners.length} did (${winners.join(', ')})`);
  const winner = winners[0] as number;
  return { winner, etag: (results[winner] as PromiseFulfilledResult<{ etag: string }>).value.etag };
}

/** A version of `key` whose every byte depends on (key, version): a mix of two versions cannot pass for either. */
function version(keyIndex: number, v: number, size: number): Uint8Array {
  const bytes = randomBytes(size, keyIndex * 100_003 + v);
  new DataView(bytes.buffer).setUint32(0, v);
  return bytes;
}

export function concurrencyCases(h: Harness): void {
  h.group('concurrency', () => {
    h.case(
      'writers racing on create-if-absent of one key: exactly one wins, and its bytes are stored',
      async (store, scale) => {
        for (let round = 0; round < 3; round++) {
          const payloads = Array.from({ length: scale.racers }, (_, i) => randomBytes(2048 + i, 1000 * round + i));
          const { winner, etag } = await race(store, `race/${round}`, payloads, { ifNoneMatch: '*' });
          assertBytes(await store.get(`race/${round}`), payloads[winner] as Uint8Array, `round ${round}: the winner's bytes`);
          await store.put(`race/${round}`, payloads[winner] as Uint8Array, { ifMatch: etag }); // the winner's etag is the current one
        }
      },
      CONDITIONAL,
    );

    h.case(
      'updates racing with ifMatch from the same etag: exactly one wins, the others must re-read',
      async (store, scale) => {
        let { etag } = await store.put('lease', randomBytes(100, 1));
        for (let round = 0; round < 3; round++) {
          const payloads = Array.from({ length: scale.ifMatchRacers }, (_, i) => randomBytes(100 + i, 5000 + 100 * round + i));
          const outcome = await race(store, 'lease', payloads, { ifMatch: etag });
          assertBytes(await store.get('lease'), payloads[outcome.winner] as Uint8Array, `round ${round}: the winner's bytes`);
          etag = outcome.etag; // the next round starts from the winner's etag, as a re-reading loser would
        }
      },
      CONDITIONAL,
    );

    h.case(
      'concurrent creates of different keys all succeed',
      async (store, scale) => {
        const payloads = Array.from({ length: scale.racers }, (_, i) => randomBytes(512, 9000 + i));
        await Promise.all(payloads.map((payload, i) => store.put(`many/${i}`, payload, { ifNoneMatch: '*' })));
        for (const [i, payload] of payloads.entries()) assertBytes(await store.get(`many/${i}`), payload, `many/${i}`);
      },
      CONDITIONAL,
    );

    h.case('readers running beside writers see whole versions, never a torn mix, never going back', async (store) => {
      const keys = 6;
      const versions = 12;
      const size = 64 * 1024 + 3;
      for (let k = 0; k < keys; k++) await store.put(`rw/${k}`, version(k, 0, size));
      let writing = true;
      let reads = 0;
      const writers = Array.from({ length: keys }, async (_, k) => {
        for (let v = 1; v <= versions; v++) await store.put(`rw/${k}`, version(k, v, size));
      });
      const readers = Array.from({ length: 4 }, async (_, r) => {
        const lastSeen = new Array<number>(keys).fill(0);
        for (let i = 0; writing || i < keys; i++) {
          const k = (i + r) % keys;
          const full = i % 3 !== 0;
          const data = full ? await store.get(`rw/${k}`) : await store.get(`rw/${k}`, { offset: 0, length: size });
          reads++;
          assert.ok(data && data.length === size, `rw/${k}: read ${data?.length} bytes, expected ${size}`);
          const v = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
          assert.ok(v <= versions, `rw/${k}: version header ${v} is garbage`);
          assertBytes(data, version(k, v, size), `rw/${k}: a whole version ${v}`);
          assert.ok(v >= (lastSeen[k] ?? 0), `rw/${k}: read version ${v} after having read version ${lastSeen[k]}`);
          lastSeen[k] = v;
        }
      });
      const written = Promise.all(writers).finally(() => {
        writing = false;
      });
      // Wait for everyone before reporting, so that no reader is left running into the next case.
      for (const result of await Promise.allSettled([written, ...readers])) if (result.status === 'rejected') throw result.reason;
      for (let k = 0; k < keys; k++) assertBytes(await store.get(`rw/${k}`), version(k, versions, size), `rw/${k}: the last version`);
      assert.ok(reads > keys, 'the readers ran');
    });
  });
}
