import { performance } from 'node:perf_hooks';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { isBlockVfsError } from '@blockvfs/core';
import { defineRequestTimeoutTests } from '@blockvfs/store-conformance';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsStore } from '../src/index.js';
import { useLocalServer, withoutEmulatorHost } from './local-server.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

/** One retry after the first attempt: every call through SQL below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
const BUCKET = 'timeouts';

/** A Storage for a server on 127.0.0.1: as users make it (the SDK's own retries on), or with them off. */
function localStorage(apiEndpoint: string, options: StorageOptions = {}): Storage {
  return withoutEmulatorHost(() => new Storage({ apiEndpoint, projectId: 'test', ...options }));
}

/** A media download of 8 KiB and a list page of two names, each to be cut off half-way. */
function partialGcsAnswer(request: StalledRequest): PartialAnswer {
  const url = new URL(request.url, 'http://x');
  if (url.pathname.endsWith('/o')) {
    const items = ['a', 'b'].map((key) => ({ kind: 'storage#object', name: `p/${key}`, size: '1', generation: '1' }));
    return { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ kind: 'storage#objects', items }) };
  }
  return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(8192, 7) };
}

defineRequestTimeoutTests({
  describe,
  it,
  name: 'GcsStore',
  source: '@blockvfs/store-gcs',
  startServer: () => StallingServer.start(),
  createStore: (endpoint, options, sdkRetries) =>
    new GcsStore({ bucket: localStorage(endpoint, sdkRetries ? {} : { retryOptions: { autoRetry: false } }).bucket(BUCKET), prefix: 'p/', ...options }),
  partialAnswer: partialGcsAnswer,
  conditionalPutMethods: ['POST', 'GET'],
  isListRequest: (line) => line.startsWith(`GET /storage/v1/b/${BUCKET}/o?`),
});

describe('GcsStore requestTimeoutMs, end to end through SQL', () => {
  const local = useLocalServer(BUCKET);
  let server: StallingServer;
  beforeAll(async () => {
    server = await StallingServer.start({ upstream: local.server().apiEndpoint });
    server.rule = () => 'forward';
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a query whose block downloads stall fails with SQLITE_IOERR naming the store, the key and the timeout', async () => {
    const setup = await openDatabase({ store: new GcsStore({ bucket: local.storage().bucket(BUCKET), prefix: 'e2e/' }), name: 'stall.db' });
    await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await setup.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t (v) SELECT printf('%0100d', i) FROM n");
    await setup.close();

    const store = new GcsStore({ bucket: localStorage(server.endpoint).bucket(BUCKET), prefix: 'e2e/', requestTimeoutMs: E2E_TIMEOUT, retry: RETRY });
    const db = await openDatabase({ store, name: 'stall.db' });
    // From now on every download of a block (the pages SQLite reads) answers its headers and half its body, then stalls.
    server.rule = (request) => (request.url.includes('alt=media') && decodeURIComponent(request.url).includes('/stall.db/blocks/') ? 'half' : 'forward');
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
    expect((error as Error).message).toMatch(
      new RegExp(`@blockvfs/store-gcs \\(gs://${BUCKET}/e2e/\\): get "stall\\.db/blocks/[^"]+"( \\(bytes [^)]+\\))? timed out after ${E2E_TIMEOUT} ms`),
    );
    expect(isBlockVfsError((error as Error).cause, 'transient')).toBe(true);
    expect(ms).toBeLessThan(ATTEMPTS * E2E_TIMEOUT + 2 * SLACK_MS);
    expect(server.stalled.length).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(await server.connectionsLeftOpen()).toBe(0);
    server.rule = () => 'forward';
    await db.close().catch(() => undefined);
  });
});
