import { BlockVfsError } from '@blockvfs/core';
import { describe, expect, it } from 'vitest';
import { GcsStore } from '../src/index.js';
import { describeRequest, requestsDuring, useLocalServer } from './local-server.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const BUCKET = 'store-behaviour';

describe('GcsStore: requests it sends (own test server)', () => {
  const local = useLocalServer(BUCKET);
  let n = 0;
  const fresh = (options: Partial<ConstructorParameters<typeof GcsStore>[0]> = {}) =>
    new GcsStore({ bucket: local.storage().bucket(BUCKET), prefix: `p${++n}/`, ...options });

  it('is named gs://bucket/prefix and keeps to its prefix', async () => {
    const a = fresh();
    const b = fresh();
    expect(a.name).toMatch(/^gs:\/\/store-behaviour\/p\d+\/$/);
    await a.put('k', text('a'));
    await b.put('k', text('b'));
    expect(new TextDecoder().decode(await a.get('k'))).toBe('a');
    expect([...(await collect(a.list('')))].map((e) => e.key)).toEqual(['k']);
    const [files] = await local.storage().bucket(BUCKET).getFiles({ prefix: a.prefix });
    expect(files.map((f) => f.name)).toEqual([`${a.prefix}k`]);
  });

  it('puts with one multipart upload request carrying its CRC32C, and conditions as ifGenerationMatch', async () => {
    const store = fresh();
    const server = local.server();
    const plain = await requestsDuring(server, () => store.put('k', text('hello')));
    expect(plain.map(describeRequest)).toEqual(['POST upload multipart']);
    expect(plain[0]?.query.get('ifGenerationMatch')).toBeNull();
    let etag = '';
    const create = await requestsDuring(server, async () => {
      etag = (await store.put('c', text('x'), { ifNoneMatch: '*' })).etag;
    });
    expect(create.map(describeRequest)).toEqual(['POST upload multipart']);
    expect(create[0]?.query.get('ifGenerationMatch')).toBe('0');
    const replace = await requestsDuring(server, () => store.put('c', text('y'), { ifMatch: etag }));
    expect(replace[0]?.query.get('ifGenerationMatch')).toBe(etag);
    // The etag is the object's generation, as GCS reports it.
    const [metadata] = await local.storage().bucket(BUCKET).file(`${store.prefix}k`).getMetadata();
    expect((await collect(store.list('k')))[0]?.etag).toBe(String(metadata.generation));
  });

  it('gets with one media request: ranges as a Range header (end inclusive), length 0 as one byte', async () => {
    const store = fresh();
    const server = local.server();
    await store.put('r', text('0123456789'));
    const whole = await requestsDuring(server, () => store.get('r'));
    expect(whole.map(describeRequest)).toEqual(['GET media']);
    expect(whole[0]?.headers.get('range')).toBeNull();
    const ranged = await requestsDuring(server, async () => {
      expect(new TextDecoder().decode(await store.get('r', { offset: 2, length: 3 }))).toBe('234');
    });
    expect(ranged.map((r) => r.headers.get('range'))).toEqual(['bytes=2-4']);
    const tail = await requestsDuring(server, async () => {
      expect(new TextDecoder().decode(await store.get('r', { offset: 7 }))).toBe('789');
    });
    expect(tail.map((r) => r.headers.get('range'))).toEqual(['bytes=7-']);
    const empty = await requestsDuring(server, async () => {
      expect(await store.get('r', { offset: 4, length: 0 })).toEqual(new Uint8Array(0));
      expect(await store.get('missing', { offset: 4, length: 0 })).toBeUndefined();
    });
    expect(empty.map((r) => r.headers.get('range'))).toEqual(['bytes=4-4', 'bytes=4-4']);
  });

  it('lists 1000 names a page, from startOffset = startAfter, skipping startAfter itself', async () => {
    const store = fresh({ deleteConcurrency: 8 });
    const server = local.server();
    const keys = Array.from({ length: 2100 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((key) => store.put(key, text(key))));
    let listed: string[] = [];
    const pages = await requestsDuring(server, async () => {
      listed = (await collect(store.list('k/', { startAfter: 'k/0100' }))).map((e) => e.key);
    });
    expect(listed).toEqual(keys.slice(101)); // k/0100..k/2099 is 2000 names: two pages
    expect(pages.map(describeRequest)).toEqual(['GET list', 'GET list']);
    expect(pages[0]?.query.get('startOffset')).toBe(`${store.prefix}k/0100`);
    expect(pages[0]?.query.get('maxResults')).toBe('1000');
    // Deletes: one request per distinct key, at most deleteConcurrency at once.
    const deletes = await requestsDuring(server, () => store.delete([...keys, keys[0] as string]));
    expect(deletes.filter((r) => r.method === 'DELETE')).toHaveLength(keys.length);
    expect(await collect(store.list(''))).toEqual([]);
  });

  it('never lets the SDK retry a conditional put (a retry would report our own write as a lost race)', async () => {
    // Default SDK retry options (autoRetry on), and the store's own retry off: one attempt only.
    const store = fresh({ retry: false });
    const server = local.server();
    server.injectFault({ status: 503, times: 5, match: (r) => r.path.startsWith('/upload/') });
    const attempts = await requestsDuring(server, async () => {
      await expect(store.put('once', text('x'), { ifNoneMatch: '*' })).rejects.toMatchObject({ kind: 'transient' });
    });
    server.clearFaults();
    // One upload, then the read-back that decides the unknown outcome.
    expect(attempts.map(describeRequest)).toEqual(['POST upload multipart', 'GET object']);
  });

  it('refuses bad options with kind "invalid"', () => {
    const bucket = local.storage().bucket(BUCKET);
    // No cache option: a cache of every object served the atomic layout's head stale.
    const bad: unknown[] = [{}, { bucket: {} }, { bucket, prefix: 3 }, { bucket, deleteConcurrency: 0 }, { bucket, cache: { maxBytes: 1 << 20 } }];
    for (const options of bad) {
      expect(() => new GcsStore(options as ConstructorParameters<typeof GcsStore>[0])).toThrow(BlockVfsError);
    }
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}
