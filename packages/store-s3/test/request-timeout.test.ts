import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { isBlockVfsError } from '@blockvfs/core';
import { defineRequestTimeoutTests } from '@blockvfs/store-conformance';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../src/index.js';
import { createClient, describeS3, emptyStore, freshPrefix } from './s3-target.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

/** One retry after the first attempt: every call through SQL below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;

/** A client for a server on 127.0.0.1: as users make it (the SDK's own retries on: maxAttempts 3), or with them off. */
function localClient(endpoint: string, sdkRetries = true): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    ...(sdkRetries ? {} : { maxAttempts: 1 }),
  });
}

/** A GetObject answer of 8 KiB and a ListObjectsV2 page of two keys, each to be cut off half-way. */
function partialS3Answer(request: StalledRequest): PartialAnswer {
  if (new URL(request.url, 'http://x').searchParams.get('list-type') === '2') {
    const contents = ['a', 'b'].map((key) => `<Contents><Key>p/${key}</Key><Size>1</Size><ETag>"e"</ETag></Contents>`).join('');
    return {
      status: 200,
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`,
    };
  }
  return { status: 200, headers: { 'content-type': 'application/octet-stream', etag: '"0123456789abcdef"' }, body: Buffer.alloc(8192, 7) };
}

defineRequestTimeoutTests({
  describe,
  it,
  name: 'S3Store',
  source: '@blockvfs/store-s3',
  startServer: () => StallingServer.start(),
  createStore: (endpoint, options, sdkRetries) => new S3Store({ client: localClient(endpoint, sdkRetries), bucket: 'bucket', prefix: 'p/', ...options }),
  partialAnswer: partialS3Answer,
  conditionalPutMethods: ['PUT', 'GET'],
  isListRequest: (line) => line.startsWith('GET /bucket/?list-type=2'),
});

describeS3(
  'S3Store requestTimeoutMs, end to end through SQL',
  (target) => {
    let server: StallingServer;
    /** Through the stalling server, and straight to the gateway. */
    let client: S3Client;
    let direct: S3Client;
    let behind: S3Store | undefined;
    beforeAll(async () => {
      server = await StallingServer.start({ upstream: target.endpoint });
      server.rule = () => 'forward';
      client = createClient({ ...target, endpoint: server.endpoint });
      direct = createClient(target);
    });
    afterAll(async () => {
      if (behind) await emptyStore(behind);
      client?.destroy();
      direct?.destroy();
      await server?.close();
    });

    it('a query whose block GETs stall fails with SQLITE_IOERR naming the store, the key and the timeout', async () => {
      const prefix = freshPrefix(target, 'timeout');
      // Written with the default timeout: a fresh gateway takes a second or so over its first requests.
      behind = new S3Store({ client: direct, bucket: target.bucket, prefix });
      const setup = await openDatabase({ store: behind, name: 'stall.db' });
      await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      await setup.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t (v) SELECT printf('%0100d', i) FROM n");
      await setup.close();

      const store = new S3Store({ client, bucket: target.bucket, prefix, requestTimeoutMs: E2E_TIMEOUT, retry: RETRY });
      const db = await openDatabase({ store, name: 'stall.db' });
      // From now on every GET of a block (the pages SQLite reads) answers its headers and half its body, then stalls.
      server.rule = (request) => (request.method === 'GET' && request.url.includes('/stall.db/blocks/') ? 'half' : 'forward');
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
        new RegExp(
          `@blockvfs/store-s3 \\(${escapeRegExp(store.name)}\\): get "stall\\.db/blocks/[^"]+"( \\(bytes [^)]+\\))? timed out after ${E2E_TIMEOUT} ms`,
        ),
      );
      expect(isBlockVfsError((error as Error).cause, 'transient')).toBe(true);
      expect(ms).toBeLessThan(ATTEMPTS * E2E_TIMEOUT + 2 * SLACK_MS);
      expect(server.stalled.length).toBeGreaterThanOrEqual(ATTEMPTS);
      expect(await server.connectionsLeftOpen()).toBe(0);
      server.rule = () => 'forward';
      await db.close().catch(() => undefined);
    });
  },
  { loopbackProxy: true },
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
