import { BlockVfsError, isBlockVfsError, type RetryOptions } from '@blockvfs/core';
import {
  AnonymousCredential,
  ContainerClient,
  ContainerSASPermissions,
  newPipeline,
  type StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { AzureBlobStore, MAX_BATCH_DELETE } from '@blockvfs/store-azure';
import { azureConnection, createTestContainer, deleteTestContainer, NO_SDK_RETRIES, serviceClient } from './azure-fixture.js';
import { countingClient, CuttingProxy } from './wire.js';

const text = (s: string) => new TextEncoder().encode(s);
const emulator = azureConnection().emulator;

let container: ContainerClient;
let credential: StorageSharedKeyCredential;
beforeAll(async () => {
  container = await createTestContainer('store');
  credential = serviceClient().credential as StorageSharedKeyCredential;
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

let prefixes = 0;
const freshPrefix = () => `t${++prefixes}/`;

async function listKeys(store: AzureBlobStore, prefix = '', startAfter?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix, startAfter === undefined ? {} : { startAfter })) keys.push(entry.key);
  return keys;
}

async function rejection(promise: Promise<unknown>): Promise<BlockVfsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BlockVfsError);
    return error as BlockVfsError;
  }
  throw new Error('expected a rejection');
}

describe('names, prefixes and etags', () => {
  test('the store is named azure://account/container/prefix, and errors carry that name', async () => {
    const prefix = freshPrefix();
    const store = new AzureBlobStore({ container, prefix });
    expect(store.name).toBe(`azure://${container.accountName}/${container.containerName}/${prefix}`);
    expect(new AzureBlobStore({ container }).name).toBe(`azure://${container.accountName}/${container.containerName}`);
    const error = await rejection(store.put('', text('x')));
    expect(error.kind).toBe('invalid');
    expect(error.message.startsWith(`@blockvfs/store-azure (${store.name}): `)).toBe(true);
  });

  test('stores with different prefixes in one container do not see or delete each other’s keys', async () => {
    const [a, b] = [freshPrefix(), freshPrefix()];
    const storeA = new AzureBlobStore({ container, prefix: a });
    const storeB = new AzureBlobStore({ container, prefix: b });
    await storeA.put('k', text('from a'));
    await storeB.put('k', text('from b'));
    await storeB.put('only-b', text('b'));
    expect(await listKeys(storeA)).toEqual(['k']);
    expect(await listKeys(storeB)).toEqual(['k', 'only-b']);
    await storeA.delete(['k', 'only-b']);
    expect(await storeA.get('k')).toBeUndefined();
    expect(new TextDecoder().decode(await storeB.get('k'))).toBe('from b');
    expect(await storeB.get('only-b')).toBeDefined();
    // The blobs really are named <prefix><key>.
    const names: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix: b })) names.push(item.name);
    expect(names).toEqual([`${b}k`, `${b}only-b`]);
  });

  test('etags are unquoted, the same from put and list, and ifMatch takes them quoted or not', async () => {
    const store = new AzureBlobStore({ container, prefix: freshPrefix() });
    const { etag } = await store.put('e', text('1'));
    expect(etag).not.toMatch(/"/);
    const [listed] = await (async () => {
      const entries = [];
      for await (const entry of store.list('e')) entries.push(entry);
      return entries;
    })();
    expect(listed?.etag).toBe(etag);
    const second = await store.put('e', text('2'), { ifMatch: `"${etag}"` });
    await store.put('e', text('3'), { ifMatch: second.etag });
    expect(new TextDecoder().decode(await store.get('e'))).toBe('3');
  });

  test('keys that cannot name a blob faithfully are refused before any request', async () => {
    const { client, requests } = countingClient(container, credential);
    const store = new AzureBlobStore({ container: client, prefix: freshPrefix() });
    for (const key of ['a/../b', './a', 'a/.', '..', 'x\uD800y', 'k'.repeat(1030)]) {
      expect((await rejection(store.put(key, text('x')))).kind, key).toBe('invalid');
      expect((await rejection(store.get(key))).kind, key).toBe('invalid');
      expect((await rejection(store.delete(['fine', key]))).kind, key).toBe('invalid');
    }
    expect(requests).toEqual([]);
    // Dots that are not whole segments are ordinary characters.
    await store.put('a..b/.c/d.', text('dots'));
    expect(await listKeys(store)).toEqual(['a..b/.c/d.']);
  });
});

describe('requests on the wire', () => {
  test('an empty range is one request; startAfter is sent as startFrom and the listing starts there', async () => {
    const { client, requests } = countingClient(container, credential);
    const store = new AzureBlobStore({ container: client, prefix: freshPrefix() });
    await store.put('k', text('abc'));
    requests.length = 0;
    expect(await store.get('k', { offset: 1, length: 0 })).toEqual(new Uint8Array(0));
    expect(await store.get('missing', { offset: 0, length: 0 })).toBeUndefined();
    expect(await store.get('k', { offset: 3 })).toEqual(new Uint8Array(0));
    expect(await store.get('k', { offset: 1, length: 5 })).toEqual(text('bc'));
    expect(requests).toEqual(['HEAD', 'HEAD', 'GET', 'GET']);
  });

  test('a delete is one request per 256 keys (a blob batch), missing keys included', async () => {
    const { client, requests } = countingClient(container, credential);
    const store = new AzureBlobStore({ container: client, prefix: freshPrefix() });
    const keys = Array.from({ length: 2 * MAX_BATCH_DELETE + 10 }, (_, i) => `d/${i}`);
    for (let i = 0; i < keys.length; i += 64)
      await Promise.all(
        keys
          .slice(i, i + 64)
          .filter((_, j) => j % 2 === 0)
          .map((key) => store.put(key, text(key))),
      );
    requests.length = 0;
    await store.delete(keys);
    expect(requests).toEqual(['POST batch', 'POST batch', 'POST batch']);
    expect(await listKeys(store)).toEqual([]);
    requests.length = 0;
    await store.delete(['d/0']);
    expect(requests).toEqual(['DELETE']); // a single key is a plain Delete Blob, cheaper than a batch of one
  });

  test('a listing pages by 1000, and startAfter skips on the service (startFrom), not by paging through', async () => {
    const { client, requests } = countingClient(container, credential);
    const store = new AzureBlobStore({ container: client, prefix: freshPrefix() });
    const keys = Array.from({ length: 2100 }, (_, i) => `l/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 64) await Promise.all(keys.slice(i, i + 64).map((key) => store.put(key, new Uint8Array(0))));
    requests.length = 0;
    expect(await listKeys(store)).toEqual(keys);
    expect(requests).toEqual(['GET list', 'GET list', 'GET list']);
    requests.length = 0;
    expect(await listKeys(store, 'l/', 'l/02050')).toEqual(keys.slice(2051));
    expect(requests).toEqual(['GET list']);
  });
});

describe('options', () => {
  test('no cache option: a cache of every object served the atomic layout’s head stale', () => {
    expect(() => new AzureBlobStore({ container, cache: { maxBytes: 1 << 20 } } as ConstructorParameters<typeof AzureBlobStore>[0])).toThrow(
      /no "cache" option/,
    );
  });
});

describe('error kinds', () => {
  test('a missing container is permanent, named in the message, with the SDK error as cause', async () => {
    const store = new AzureBlobStore({ container: serviceClient(NO_SDK_RETRIES).getContainerClient(`missing-${azureConnection().runId}`) });
    const attempts = [
      () => store.put('k', text('x')),
      () => store.put('k', text('x'), { ifNoneMatch: '*' }),
      () => store.delete(['a', 'b']),
      () => listKeys(store),
    ];
    for (const attempt of attempts) {
      const error = await rejection(attempt());
      expect(error.kind).toBe('permanent');
      expect(error.message).toContain(store.name);
      expect(error.message).toContain('ContainerNotFound');
      expect((error.cause as { statusCode?: number }).statusCode).toBe(404);
    }
    // Not "no such object": a missing container is a misconfiguration, not an empty store.
    expect((await rejection(store.get('k'))).kind).toBe('permanent');
  });

  test('access denied (a read-only SAS) is permanent', async () => {
    const store0 = new AzureBlobStore({ container, prefix: freshPrefix() });
    await store0.put('r', text('readable'));
    const sasUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) });
    const readOnly = new AzureBlobStore({
      container: new ContainerClient(sasUrl, newPipeline(new AnonymousCredential(), NO_SDK_RETRIES)),
      prefix: store0.prefix,
    });
    expect(new TextDecoder().decode(await readOnly.get('r'))).toBe('readable');
    const error = await rejection(readOnly.put('w', text('x')));
    expect(error.kind).toBe('permanent');
    expect(error.message).toMatch(/403/);
  });

  test.skipIf(!emulator)('no answer from the service is transient, except for a conditional put, whose outcome is then unknown', async () => {
    const closed = await CuttingProxy.start({ host: '127.0.0.1', port: 9 });
    const port = closed.port;
    await closed.close(); // nothing listens there now
    const client = new ContainerClient(`http://127.0.0.1:${port}/${container.accountName}/${container.containerName}`, credential as never, NO_SDK_RETRIES);
    const store = new AzureBlobStore({ container: client, retry: false });
    const attempts = [() => store.get('k'), () => store.put('k', text('x')), () => store.delete(['a', 'b']), () => listKeys(store)];
    for (const attempt of attempts) {
      const error = await rejection(attempt());
      expect(error.kind, error.message).toBe('transient');
    }
    // The SDK may have sent an earlier attempt that landed, and the blob cannot be read back:
    // transient, saying so (a retry of the same bytes reuses the put id, and so knows its own write).
    for (const condition of [{ ifNoneMatch: '*' as const }, { ifMatch: '0x1' }]) {
      const error = await rejection(store.put('k', text('x'), condition));
      expect(error.kind).toBe('transient');
      expect(error.message).toContain('outcome unknown');
    }
  });
});

describe.skipIf(!emulator)('conditional puts whose answer is lost', () => {
  let proxy: CuttingProxy;
  let target: { host: string; port: number };
  beforeAll(() => {
    const endpoint = new URL(container.url);
    target = { host: endpoint.hostname, port: Number(endpoint.port) };
  });
  afterEach(async () => {
    expect(proxy.pending, 'every planned cut happened').toBe(0);
    await proxy.close();
  });

  /** Each decision on its own: no withRetry (`retry: false`) unless `retry` is given. */
  async function storeBehindProxy(options: StoragePipelineOptions, retry: RetryOptions | false = false): Promise<AzureBlobStore> {
    proxy = await CuttingProxy.start(target);
    const url = new URL(container.url);
    url.port = String(proxy.port);
    return new AzureBlobStore({ container: new ContainerClient(url.toString(), credential, options), prefix: freshPrefix(), retry });
  }

  test('the write landed but the answer was lost: reading back finds our put id, the put succeeds', async () => {
    const store = await storeBehindProxy(NO_SDK_RETRIES);
    proxy.cutNext('PUT', 'response');
    const created = await store.put('c', text('mine'), { ifNoneMatch: '*' });
    proxy.cutNext('PUT', 'response');
    const replaced = await store.put('c', text('mine again'), { ifMatch: created.etag });
    expect(proxy.cuts).toBe(2);
    const entries = [];
    for await (const entry of store.list('c')) entries.push(entry);
    expect(entries).toEqual([{ key: 'c', size: 10, etag: replaced.etag }]);
  });

  test('the SDK re-sent a put that had landed and lost to itself (409/412): still a success', async () => {
    const store = await storeBehindProxy({ retryOptions: { maxTries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 20 } });
    proxy.cutNext('PUT', 'response');
    const created = await store.put('c', text('mine'), { ifNoneMatch: '*' });
    proxy.cutNext('PUT', 'response');
    const replaced = await store.put('c', text('mine again'), { ifMatch: created.etag });
    expect(proxy.cuts).toBe(2);
    expect(new TextDecoder().decode(await store.get('c'))).toBe('mine again');
    await store.put('c', text('third'), { ifMatch: replaced.etag }); // the returned etag is the current one
    // And someone else's blob is still a lost race, not mistaken for ours.
    expect((await rejection(store.put('c', text('mine'), { ifNoneMatch: '*' }))).kind).toBe('precondition-failed');
  });

  test('the request never arrived: the condition still holds, so the error stays transient (safe to retry)', async () => {
    const store = await storeBehindProxy(NO_SDK_RETRIES);
    proxy.cutNext('PUT', 'request');
    expect((await rejection(store.put('c', text('x'), { ifNoneMatch: '*' }))).kind).toBe('transient');
    expect(await store.get('c')).toBeUndefined();
    const { etag } = await store.put('c', text('x'), { ifNoneMatch: '*' });
    proxy.cutNext('PUT', 'request');
    expect((await rejection(store.put('c', text('y'), { ifMatch: etag }))).kind).toBe('transient');
  });

  test('the outcome cannot be learnt (the read-back fails too): transient, saying the outcome is unknown', async () => {
    const store = await storeBehindProxy(NO_SDK_RETRIES);
    proxy.cutNext('PUT', 'response');
    proxy.cutNext('HEAD', 'request');
    const error = await rejection(store.put('c', text('x'), { ifNoneMatch: '*' }));
    expect(error.kind).toBe('transient');
    expect(error.message).toContain('outcome unknown');
    expect(isBlockVfsError(error)).toBe(true);
  });

  test('with the default retry, a put whose outcome could not be learnt is retried, and the retry recognises its own landed write', async () => {
    const store = await storeBehindProxy(NO_SDK_RETRIES, { retries: 2, baseDelayMs: 1 });
    proxy.cutNext('PUT', 'response'); // the write lands, its answer is lost
    proxy.cutNext('HEAD', 'request'); // and so is the read-back: outcome unknown, transient
    const created = await store.put('c', text('mine'), { ifNoneMatch: '*' }); // the retry loses its condition to our own write: still ours
    expect(proxy.cuts).toBe(2);
    expect(new TextDecoder().decode(await store.get('c'))).toBe('mine');
    await store.put('c', text('next'), { ifMatch: created.etag }); // the etag returned is the blob's
    // Other bytes are another put: the same situation then is a lost race.
    expect((await rejection(store.put('c', text('other'), { ifNoneMatch: '*' }))).kind).toBe('precondition-failed');
  });
});
