import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { RequestTimeoutError } from '@blockvfs/core/store';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3Store, type S3StoreOptions } from '../src/index.js';
import { createClient, describeS3, emptyStore, freshPrefix } from './s3-target.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

const TIMEOUT = 300;
/** One retry after the first attempt: every call below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
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

/** A client as users make it (the SDK's own retries on: maxAttempts 3), for a server on 127.0.0.1. */
function localClient(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
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

async function listAll(store: S3Store, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys;
}

describe('S3Store requestTimeoutMs', () => {
  let server: StallingServer;
  let client: S3Client;
  const store = (options: Partial<S3StoreOptions> = {}) =>
    new S3Store({ client, bucket: 'bucket', prefix: 'p/', requestTimeoutMs: TIMEOUT, retry: RETRY, ...options });
  /** The call's error: transient, `@blockvfs/store-s3 (s3://bucket/p/): <what> timed out after 300 ms`, a RequestTimeoutError as cause; in bounded time. */
  const expectTimedOut = async (call: Promise<unknown>, what: string, attempts = ATTEMPTS) => {
    const { error, ms } = await timedRejection(call);
    expect(error.kind).toBe('transient');
    expect(error.message).toBe(`@blockvfs/store-s3 (s3://bucket/p/): ${what} timed out after ${TIMEOUT} ms`);
    expect(error.cause).toBeInstanceOf(RequestTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(attempts * TIMEOUT * 0.95); // timers may fire a few ms early by the wall clock
    expect(ms).toBeLessThan(attempts * TIMEOUT + SLACK_MS);
    expect(server.stalled).toHaveLength(attempts);
    expect(await server.connectionsLeftOpen()).toBe(0);
    return error;
  };

  beforeAll(async () => {
    server = await StallingServer.start();
    client = localClient(server.endpoint);
  });
  afterEach(() => {
    server.rule = () => 'silent';
    server.stalled.length = 0;
  });
  afterAll(async () => {
    client.destroy();
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
      await expectTimedOut(s.get('k', { offset: 4096, length: 4096 }), 'get "k"');
      server.stalled.length = 0;
      await expectTimedOut(s.put('k', bytes('v')), 'put "k"');
      server.stalled.length = 0;
      await expectTimedOut(s.delete(['a', 'b']), 'delete 2 keys from "a"');
      server.stalled.length = 0;
      await expectTimedOut(listAll(s, 'db/'), 'list "db/"');
      // The SDK's own retries (maxAttempts 3) never got a turn: the abort ended each send.
      expect(server.stalled.every((line) => line.startsWith('GET /bucket/?list-type=2'))).toBe(true);
    });

    it('a conditional put that timed out is read back before deciding, never reported as a lost race', async () => {
      const s = store();
      // Each attempt: the PUT times out, then the read-back GET times out too: outcome unknown.
      const { error, ms } = await timedRejection(s.put('c', bytes('mine'), { ifNoneMatch: '*' }));
      expect(error.kind).toBe('transient');
      expect(error.message).toMatch(/^@blockvfs\/store-s3 \(s3:\/\/bucket\/p\/\): put "c" \(if absent\): outcome unknown after timeout \(300 ms\), and reading it back failed: .*read back after "c" timed out after 300 ms$/);
      expect(server.stalled.map((line) => line.split(' ')[0])).toEqual(['PUT', 'GET', 'PUT', 'GET']);
      expect(ms).toBeLessThan(4 * TIMEOUT + SLACK_MS);
      expect(await server.connectionsLeftOpen()).toBe(0);
    });

    it('false turns the timeout off: the call waits for as long as the server does', async () => {
      const s = store({ requestTimeoutMs: false, retry: false });
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
      client.destroy();
      client = localClient(server.endpoint);
    });
  });

  describe('a server that answers half a body and stalls', () => {
    it('a GET whose body stops half-way fails transient, its socket closed', async () => {
      server.rule = partialS3Answer;
      await expectTimedOut(store().get('db/log/000000000003'), 'get "db/log/000000000003"');
    });

    it('a listing whose page stops half-way fails transient, its socket closed', async () => {
      server.rule = partialS3Answer;
      await expectTimedOut(listAll(store()), 'list ""');
    });
  });
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
      expect((error as Error).message).toMatch(new RegExp(`@blockvfs/store-s3 \\(${escape(store.name)}\\): get "stall\\.db/blocks/[^"]+" timed out after ${E2E_TIMEOUT} ms`));
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

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
