import { type BlockVfsError, isBlockVfsError, type ErrorKind } from '@blockvfs/core';
import { SqliteError, openDatabase } from '@blockvfs/vfs-wasqlite';
import { startGcsTestServer } from '@blockvfs/test-servers';
import { Storage } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { GcsStore, type GcsStoreOptions } from '../src/index.js';
import { describeRequest, requestsDuring, useLocalServer, withoutEmulatorHost } from './local-server.js';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const BUCKET = 'errors';
const isUpload = (r: { path: string }) => r.path.startsWith('/upload/');

/** The BlockVfsError `promise` rejects with, checked for kind, message prefix and the SDK error as cause. */
async function storeError(store: GcsStore, promise: Promise<unknown>, kind: ErrorKind): Promise<BlockVfsError> {
  const error: unknown = await promise.then(
    () => {
      throw new Error(`expected a ${kind} failure`);
    },
    (e: unknown) => e,
  );
  expect(isBlockVfsError(error), String(error)).toBe(true);
  const blockVfsError = error as BlockVfsError;
  expect(blockVfsError.kind, blockVfsError.message).toBe(kind);
  expect(blockVfsError.message.startsWith(`@blockvfs/store-gcs (${store.name}): `), blockVfsError.message).toBe(true);
  expect(blockVfsError.cause).toBeDefined();
  return blockVfsError;
}

describe('GcsStore errors (own test server, SDK retries off)', () => {
  const local = useLocalServer(BUCKET);
  let n = 0;
  /** The SDK's retries are off so that one injected fault is one failed call; the store's too unless asked for. */
  const fresh = (options: Partial<GcsStoreOptions> = {}, bucket = BUCKET) =>
    new GcsStore({ bucket: local.storage({ retryOptions: { autoRetry: false } }).bucket(bucket), prefix: `e${++n}/`, retry: false, ...options });

  it('maps HTTP statuses to kinds, with the SDK error as cause and GCS reason and message in the text', async () => {
    const store = fresh();
    const server = local.server();
    await store.put('k', text('x'));
    const cases: { status: number; kind: ErrorKind; call: () => Promise<unknown> }[] = [
      { status: 403, kind: 'permanent', call: () => store.get('k') },
      { status: 401, kind: 'permanent', call: () => store.put('k', text('y')) },
      { status: 400, kind: 'invalid', call: () => store.put('k', text('y')) },
      { status: 429, kind: 'transient', call: () => store.put('k', text('y')) },
      { status: 503, kind: 'transient', call: () => collectKeys(store) },
      { status: 500, kind: 'transient', call: () => store.delete(['k']) },
      { status: 408, kind: 'transient', call: () => store.get('k', { offset: 0, length: 1 }) },
    ];
    for (const { status, kind, call } of cases) {
      server.injectFault({ status, reason: `reason${status}`, message: `injected ${status}` });
      const error = await storeError(store, call(), kind);
      expect(error.message).toContain(`failed: reason${status} (HTTP ${status}): injected ${status}`);
      expect((error.cause as { code?: unknown }).code).toBe(status);
    }
    expect(new TextDecoder().decode(await store.get('k'))).toBe('x');
  });

  it('a missing bucket is permanent for every call, never "no such key"', async () => {
    const store = fresh({}, 'no-such-bucket');
    for (const call of [() => store.get('k'), () => store.put('k', text('x')), () => store.delete(['k']), () => collectKeys(store)]) {
      const error = await storeError(store, call(), 'permanent');
      expect(error.message).toContain('the bucket does not exist');
    }
  });

  it('a dropped connection or a server that is gone is transient', async () => {
    const store = fresh();
    local.server().injectFault({ status: 'drop' });
    await storeError(store, store.get('k'), 'transient');
    const gone = await startGcsTestServer({ buckets: [BUCKET] });
    await gone.stop();
    const unreachable = new GcsStore({
      bucket: withoutEmulatorHost(() => new Storage({ apiEndpoint: gone.apiEndpoint, projectId: 'test', retryOptions: { autoRetry: false } })).bucket(BUCKET),
      retry: false,
    });
    await storeError(unreachable, unreachable.get('k'), 'transient');
    await storeError(unreachable, unreachable.put('k', text('x')), 'transient');
  });

  it('a lost condition is precondition-failed, with GCS 412 as cause', async () => {
    const store = fresh();
    const { etag } = await store.put('c', text('1'));
    await store.put('c', text('2'));
    const error = await storeError(store, store.put('c', text('3'), { ifMatch: etag }), 'precondition-failed');
    expect((error.cause as { code?: unknown }).code).toBe(412);
    await storeError(store, store.put('c', text('3'), { ifNoneMatch: '*' }), 'precondition-failed');
    // An etag that is no generation cannot be the object's: refused without a request.
    await expect(store.put('c', text('3'), { ifMatch: 'not-a-generation' })).rejects.toMatchObject({ kind: 'precondition-failed' });
  });

  describe('a conditional put whose answer is lost is decided by reading the object back', () => {
    it('it happened: the put succeeds with the stored generation', async () => {
      const store = fresh();
      const server = local.server();
      server.injectFault({ status: 503, after: true, match: isUpload });
      let etag = '';
      const requests = await requestsDuring(server, async () => {
        etag = (await store.put('u', text('mine'), { ifNoneMatch: '*' })).etag;
      });
      expect(requests.map(describeRequest)).toEqual(['POST upload multipart', 'GET object']);
      const [entry] = await collectEntries(store);
      expect(entry?.etag).toBe(etag);
      server.injectFault({ status: 'drop', after: true, match: isUpload });
      const next = await store.put('u', text('mine, again'), { ifMatch: etag });
      expect(next.etag).not.toBe(etag);
      expect(new TextDecoder().decode(await store.get('u'))).toBe('mine, again');
    });

    it('it did not happen: transient, and a retry then succeeds', async () => {
      const store = fresh();
      const server = local.server();
      server.injectFault({ status: 503, match: isUpload });
      const error = await storeError(store, store.put('u', text('x'), { ifNoneMatch: '*' }), 'transient');
      expect(error.message).toContain('it did not take effect');
      expect(await store.get('u')).toBeUndefined();
      // With the store's retry (core's withRetry) on, the same fault is absorbed.
      const retrying = fresh({ retry: { baseDelayMs: 1 } });
      server.injectFault({ status: 503, times: 2, match: isUpload });
      await retrying.put('u', text('x'), { ifNoneMatch: '*' });
      expect(new TextDecoder().decode(await retrying.get('u'))).toBe('x');
    });

    it('the outcome cannot be learnt (the read-back fails too): transient, and a retry of the same bytes recognises its own write', async () => {
      const store = fresh();
      const server = local.server();
      server.injectFault({ status: 503, after: true, match: isUpload }); // it lands, its answer is lost
      server.injectFault({ status: 503, match: (r) => !isUpload(r) }); // and so is the read-back
      const error = await storeError(store, store.put('u', text('mine'), { ifNoneMatch: '*' }), 'transient');
      expect(error.message).toContain('put "u" (if absent): outcome unknown after');
      // The retry loses its condition to our own landed write: read back, it is ours.
      const { etag } = await store.put('u', text('mine'), { ifNoneMatch: '*' });
      const [entry] = await collectEntries(store);
      expect(entry?.etag).toBe(etag);
      // Other bytes are another put: then it is a lost race.
      await storeError(store, store.put('u', text('other'), { ifNoneMatch: '*' }), 'precondition-failed');
    });

    it('another writer won meanwhile: precondition-failed', async () => {
      const store = fresh();
      const server = local.server();
      const { etag } = await store.put('u', text('v1'));
      // Another writer replaces the object; then our put's answer is lost (503 before it was carried out).
      await store.put('u', text('theirs'));
      server.injectFault({ status: 503, match: isUpload });
      const raced = await storeError(store, store.put('u', text('ours'), { ifMatch: etag }), 'precondition-failed');
      expect(raced.message).toContain('another writer replaced it');
    });
  });

  it('an SQL statement whose store request fails reports the store message, with the store error as cause', async () => {
    const store = fresh();
    const server = local.server();
    const db = await openDatabase({ store, name: 'fails.db' });
    await db.exec('CREATE TABLE t (v TEXT)');
    server.injectFault({ status: 403, reason: 'forbidden', message: 'Access denied to the test bucket', times: 1000, match: isUpload });
    let failure: unknown;
    try {
      await db.run('INSERT INTO t VALUES (?)', ['x'.repeat(10_000)]);
    } catch (error) {
      failure = error;
    } finally {
      server.clearFaults();
    }
    expect(failure).toBeInstanceOf(SqliteError);
    const message = (failure as Error).message;
    expect(message).toContain(`@blockvfs/store-gcs (${store.name}): put "fails.db`);
    expect(message).toContain('failed: forbidden (HTTP 403): Access denied to the test bucket');
    expect(isBlockVfsError((failure as Error).cause, 'permanent')).toBe(true);
    await db.close().catch(() => undefined);
    // The failed commit left the database as it was before: reopened, it is intact.
    const reopened = await openDatabase({ store, name: 'fails.db' });
    expect(await reopened.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    await reopened.close();
  });
});

async function collectEntries(store: GcsStore) {
  const entries = [];
  for await (const entry of store.list('')) entries.push(entry);
  return entries;
}

async function collectKeys(store: GcsStore): Promise<string[]> {
  return (await collectEntries(store)).map((entry) => entry.key);
}
