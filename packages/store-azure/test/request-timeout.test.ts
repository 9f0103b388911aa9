import { performance } from 'node:perf_hooks';
import { AnonymousCredential, ContainerClient, newPipeline, type StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { isBlockVfsError } from '@blockvfs/core';
import { defineRequestTimeoutTests } from '@blockvfs/store-conformance';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { azureConnection, createTestContainer, deleteTestContainer, serviceClient } from './azure-fixture.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

/** One retry after the first attempt: every call through SQL below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
const ACCOUNT = 'devstoreaccount1';
const CONTAINER = 'timeouts';

/** A ContainerClient for a server on 127.0.0.1: as users make it (the SDK's default retry policy: 4 tries), or with one try. */
function localContainer(endpoint: string, options: StoragePipelineOptions = {}): ContainerClient {
  return new ContainerClient(`${endpoint}/${ACCOUNT}/${CONTAINER}`, newPipeline(new AnonymousCredential(), options));
}

/** A Get Blob answer of 8 KiB and a List Blobs page of two names, each to be cut off half-way. */
function partialAzureAnswer(request: StalledRequest): PartialAnswer {
  if (new URL(request.url, 'http://x').searchParams.get('comp') === 'list') {
    const blobs = ['a', 'b']
      .map(
        (key) =>
          `<Blob><Name>p/${key}</Name><Properties><Etag>0x8D0000000000001</Etag><Content-Length>1</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>`,
      )
      .join('');
    return {
      status: 200,
      headers: { 'content-type': 'application/xml', 'x-ms-version': '2026-02-06' },
      body: `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/${ACCOUNT}" ContainerName="${CONTAINER}"><Prefix>p/</Prefix><MaxResults>1000</MaxResults><Blobs>${blobs}</Blobs><NextMarker /></EnumerationResults>`,
    };
  }
  return {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      etag: '"0x8D0000000000001"',
      'x-ms-blob-type': 'BlockBlob',
      'last-modified': new Date(0).toUTCString(),
    },
    body: Buffer.alloc(8192, 7),
  };
}

defineRequestTimeoutTests({
  describe,
  it,
  name: 'AzureBlobStore',
  source: '@blockvfs/store-azure',
  startServer: () => StallingServer.start(),
  createStore: (endpoint, options, sdkRetries) =>
    new AzureBlobStore({ container: localContainer(endpoint, sdkRetries ? {} : { retryOptions: { maxTries: 1 } }), prefix: 'p/', ...options }),
  partialAnswer: partialAzureAnswer,
  conditionalPutMethods: ['PUT', 'HEAD'],
  isListRequest: (line) => line.includes('comp=list'),
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
    expect((error as Error).message).toMatch(new RegExp(`get "stall\\.db/blocks/[^"]+"( \\(bytes [^)]+\\))? timed out after ${E2E_TIMEOUT} ms`));
    expect(isBlockVfsError((error as Error).cause, 'transient')).toBe(true);
    expect(ms).toBeLessThan(ATTEMPTS * E2E_TIMEOUT + 2 * SLACK_MS);
    expect(server.stalled.length).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(await server.connectionsLeftOpen()).toBe(0);
    server.rule = () => 'forward';
    await db.close().catch(() => undefined);
  });
});
