import { performance } from 'node:perf_hooks';
import { AnonymousCredential, ContainerClient, newPipeline, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { RequestTimeoutError } from '@blockvfs/core/store';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobStore, type AzureBlobStoreOptions } from '@blockvfs/store-azure';
import { azureConnection, createTestContainer, deleteTestContainer, serviceClient } from './azure-fixture.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

const TIMEOUT = 300;
/** One retry after the first attempt (core's withRetry, which the store stacks when asked): every call below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
const ACCOUNT = 'devstoreaccount1';
const CONTAINER = 'timeouts';
const bytes = (text: string) => new TextEncoder().encode(text);

/** What `promise` rejected with, and how long it took. */
async function timedRejection(promise: Promise<unknown>): Promise<{ error: BlockVfsError; ms: number }> {
  const start = performance.now();
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  const ms = performance.now() - start;
  expect(error).toBeInstanceOf(BlockVfsError);
  return { error: error as BlockVfsError, ms };
}

/** A ContainerClient as users make it (the SDK's default retry policy: 4 tries), for a server on 127.0.0.1. */
function localContainer(endpoint: string, options: StoragePipelineOptions = {}): ContainerClient {
  return new ContainerClient(`${endpoint}/${ACCOUNT}/${CONTAINER}`, newPipeline(new AnonymousCredential(), options));
}

/** A Get Blob answer of 8 KiB and a List Blobs page of two names, each to be cut off half-way. */
function partialAzureAnswer(request: StalledRequest): PartialAnswer {
  if (new URL(request.url, 'http://x').searchParams.get('comp') === 'list') {
    const blobs = ['a', 'b']
      .map((key) => `<Blob><Name>p/${key}</Name><Properties><Etag>0x8D0000000000001</Etag><Content-Length>1</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>`)
      .join('');
    return {
      status: 200,
      headers: { 'content-type': 'application/xml', 'x-ms-version': '2026-02-06' },
      body: `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/${ACCOUNT}" ContainerName="${CONTAINER}"><Prefix>p/</Prefix><MaxResults>1000</MaxResults><Blobs>${blobs}</Blobs><NextMarker /></EnumerationResults>`,
    };
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', etag: '"0x8D0000000000001"', 'x-ms-blob-type': 'BlockBlob', 'last-modified': new Date(0).toUTCString() },
    body: Buffer.alloc(8192, 7),
  };
}

async function listAll(store: AzureBlobStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys;
}

describe('AzureBlobStore requestTimeoutMs', () => {
  let server: StallingServer;
  const store = (options: Partial<AzureBlobStoreOptions> = {}) =>
    new AzureBlobStore({ container: localContainer(server.endpoint), prefix: 'p/', requestTimeoutMs: TIMEOUT, retry: RETRY, ...options });
  const name = () => `azure://${ACCOUNT}/${CONTAINER}/p/`;
  /** The call's error: transient, `@blockvfs/store-azure (azure://devstoreaccount1/timeouts/p/): <what> timed out after 300 ms`, a RequestTimeoutError as cause; in bounded time. */
  const expectTimedOut = async (call: Promise<unknown>, what: string, attempts = ATTEMPTS) => {
    const { error, ms } = await timedRejection(call);
    expect(error.kind).toBe('transient');
    expect(error.message).toBe(`@blockvfs/store-azure (${name()}): ${what} timed out after ${TIMEOUT} ms`);
    expect(error.cause).toBeInstanceOf(RequestTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(attempts * TIMEOUT * 0.95); // timers may fire a few ms early by the wall clock
    expect(ms).toBeLessThan(attempts * TIMEOUT + SLACK_MS);
    expect(server.stalled).toHaveLength(attempts);
    expect(await server.connectionsLeftOpen()).toBe(0);
    return error;
  };

  beforeAll(async () => {
    server = await StallingServer.start();
  });
  afterEach(() => {
    server.rule = () => 'silent';
    server.stalled.length = 0;
  });
  afterAll(async () => {
    await server.close();
  });

  it('is validated: a whole number of milliseconds, or false', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '300', true]) {
      expect(() => store({ requestTimeoutMs: bad as never })).toThrow(expect.objectContaining({ kind: 'invalid' }));
    }
    expect(() => store({ requestTimeoutMs: 0 })).toThrow('false turns the timeout off');
    expect(() => store({ requestTimeoutMs: false })).not.toThrow();
    expect(() => store({ requestTimeoutMs: undefined })).not.toThrow();
  });

  describe('a server that accepts connections and never answers', () => {
    it('get, put, delete and list each fail transient after one timeout per attempt, and close their sockets', async () => {
      const s = store();
      await expectTimedOut(s.get('db/log/000000000003'), 'get "db/log/000000000003"');
      server.stalled.length = 0;
      await expectTimedOut(s.get('k', { offset: 4096, length: 4096 }), 'get "k" bytes 4096+4096');
      server.stalled.length = 0;
      await expectTimedOut(s.get('k', { offset: 0, length: 0 }), 'get "k" bytes 0+0');
      server.stalled.length = 0;
      await expectTimedOut(s.put('k', bytes('v')), 'put "k"');
      server.stalled.length = 0;
      await expectTimedOut(s.delete(['a']), 'delete "a"');
      server.stalled.length = 0;
      await expectTimedOut(s.delete(['a', 'b']), 'delete 2 keys from "a"');
      server.stalled.length = 0;
      await expectTimedOut(listAll(s, 'db/'), 'list "db/"');
      // The SDK's own retry policy (4 tries) never got a turn: the abort ended each call.
      expect(server.stalled.every((line) => line.includes('comp=list'))).toBe(true);
    });

    it('with `retry: false` a call makes one attempt: the SDK does not retry a timed-out call', async () => {
      await expectTimedOut(store({ retry: false }).get('k'), 'get "k"', 1);
    });

    it('a conditional put that timed out is read back before deciding, never reported as a lost race', async () => {
      const s = store();
      // The upload times out, then the read-back of its properties times out too: the outcome
      // stays unknown, `transient` as in the other cloud stores; the retry (same put id) meets the same.
      const { error, ms } = await timedRejection(s.put('c', bytes('mine'), { ifNoneMatch: '*' }));
      expect(error.kind).toBe('transient');
      expect(error.message).toBe(
        `@blockvfs/store-azure (${name()}): put "c" (ifNoneMatch *) timed out after ${TIMEOUT} ms (outcome unknown: reading the blob back failed too: timed out after ${TIMEOUT} ms)`,
      );
      expect(server.stalled.map((line) => line.split(' ')[0])).toEqual(['PUT', 'HEAD', 'PUT', 'HEAD']);
      expect(ms).toBeLessThan(4 * TIMEOUT + SLACK_MS);
      expect(await server.connectionsLeftOpen()).toBe(0);
    });

    it('false turns the timeout off: the call waits for as long as the server does', async () => {
      const s = store({ requestTimeoutMs: false, retry: false, container: localContainer(server.endpoint, { retryOptions: { maxTries: 1 } }) });
      let settled = false;
      const pending = s.get('k').finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUT));
      expect(settled).toBe(false);
      // Closing the server is what ends it: a dropped connection.
      await server.close();
      await expect(pending).rejects.toMatchObject({ kind: 'transient' });
      server = await StallingServer.start();
    });
  });

  describe('a server that answers half a body and stalls', () => {
    it('a Get Blob whose body stops half-way fails transient, its socket closed', async () => {
      server.rule = partialAzureAnswer;
      await expectTimedOut(store().get('db/log/000000000003'), 'get "db/log/000000000003"');
    });

    it('a listing whose page stops half-way fails transient, its socket closed', async () => {
      server.rule = partialAzureAnswer;
      await expectTimedOut(listAll(store()), 'list ""');
    });
  });
});

describe.skipIf(!azureConnection().emulator)('AzureBlobStore requestTimeoutMs, end to end through SQL', () => {
  let container: ContainerClient;
  let server: StallingServer;
  beforeAll(async () => {
    container = await createTestContainer('timeout');
    server = await StallingServer.start({ upstream: new URL(container.url).origin });
    server.rule = () => 'forward';
  });
  afterAll(async () => {
    await server?.close();
    if (container) await deleteTestContainer(container);
  });

  it('a query whose block downloads stall fails with SQLITE_IOERR naming the store, the key and the timeout', async () => {
    const setup = await openDatabase({ store: new AzureBlobStore({ container, prefix: 'e2e/' }), name: 'stall.db' });
    await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await setup.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t (v) SELECT printf('%0100d', i) FROM n");
    await setup.close();

    const url = new URL(container.url);
    const proxied = new ContainerClient(`${server.endpoint}${url.pathname}`, serviceClient().credential as StorageSharedKeyCredential);
    const store = new AzureBlobStore({ container: proxied, prefix: 'e2e/', requestTimeoutMs: E2E_TIMEOUT, retry: RETRY });
    const db = await openDatabase({ store, name: 'stall.db' });
    // From now on every download of a block (the pages SQLite reads) answers its headers and half its body, then stalls.
    server.rule = (request) => (request.method === 'GET' && decodeURIComponent(request.url).includes('/stall.db/blocks/') ? 'half' : 'forward');
    const start = performance.now();
    const error = await db.all('SELECT count(*), sum(length(v)) FROM t').then(
      () => {
        throw new Error('expected the query to fail');
      },
      (e: unknown) => e,
    );
    const ms = performance.now() - start;
    expect(error).toBeInstanceOf(SqliteError);
    expect((error as SqliteError).code).toBe(10); // SQLITE_IOERR
    expect((error as Error).message).toContain(`@blockvfs/store-azure (${store.name}): get "stall.db/blocks/`);
    expect((error as Error).message).toMatch(new RegExp(`get "stall\\.db/blocks/[^"]+"( bytes \\S+)? timed out after ${E2E_TIMEOUT} ms`));
    expect(isBlockVfsError((error as Error).cause, 'transient')).toBe(true);
    expect(ms).toBeLessThan(ATTEMPTS * E2E_TIMEOUT + 2 * SLACK_MS);
    expect(server.stalled.length).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(await server.connectionsLeftOpen()).toBe(0);
    server.rule = () => 'forward';
    await db.close().catch(() => undefined);
  });
});
