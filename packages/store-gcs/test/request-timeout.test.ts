import { performance } from 'node:perf_hooks';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { RequestTimeoutError } from '@blockvfs/core/store';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GcsStore, type GcsStoreOptions } from '../src/index.js';
import { useLocalServer, withoutEmulatorHost } from './local-server.js';
import { StallingServer, type PartialAnswer, type StalledRequest } from '@blockvfs/test-servers';

const TIMEOUT = 300;
/** One retry after the first attempt: every call below makes two attempts. */
const RETRY = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = RETRY.retries + 1;
/** Through SQL the requests go to a real server, whose answers must fit in the timeout until the stall. */
const E2E_TIMEOUT = 1_000;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
const BUCKET = 'timeouts';
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

/** A Storage as users make it (the SDK's own retries on), for a server on 127.0.0.1. */
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

async function listAll(store: GcsStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys;
}

describe('GcsStore requestTimeoutMs', () => {
  let server: StallingServer;
  let storage: Storage;
  const store = (options: Partial<GcsStoreOptions> = {}) =>
    new GcsStore({ bucket: storage.bucket(BUCKET), prefix: 'p/', requestTimeoutMs: TIMEOUT, retry: RETRY, ...options });
  /** The call's error: transient, `@blockvfs/store-gcs (gs://timeouts/p/): <what> timed out after 300 ms`, a RequestTimeoutError as cause; in bounded time. */
  const expectTimedOut = async (call: Promise<unknown>, what: string, attempts = ATTEMPTS) => {
    const { error, ms } = await timedRejection(call);
    expect(error.kind).toBe('transient');
    expect(error.message).toBe(`@blockvfs/store-gcs (gs://${BUCKET}/p/): ${what} timed out after ${TIMEOUT} ms`);
    expect(error.cause).toBeInstanceOf(RequestTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(attempts * TIMEOUT * 0.95); // timers may fire a few ms early by the wall clock
    expect(ms).toBeLessThan(attempts * TIMEOUT + SLACK_MS);
    expect(server.stalled).toHaveLength(attempts);
    expect(await server.connectionsLeftOpen()).toBe(0);
    return error;
  };

  beforeAll(async () => {
    server = await StallingServer.start();
    storage = localStorage(server.endpoint);
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
      await expectTimedOut(s.get('k', { offset: 4096, length: 4096 }), 'get "k" (bytes 4096+4096)');
      server.stalled.length = 0;
      await expectTimedOut(s.put('k', bytes('v')), 'put "k"');
      server.stalled.length = 0;
      await expectTimedOut(s.delete(['a']), 'delete "a"');
      server.stalled.length = 0;
      await expectTimedOut(listAll(s, 'db/'), 'list "db/"');
      // The SDK's own retries never got a turn: the timeout ended each call.
      expect(server.stalled.every((line) => line.startsWith(`GET /storage/v1/b/${BUCKET}/o?`))).toBe(true);
    });

    it('a conditional put that timed out is read back before deciding, never reported as a lost race', async () => {
      const s = store();
      // Each attempt: the upload times out, then the read-back of the metadata times out too: outcome unknown.
      const { error, ms } = await timedRejection(s.put('c', bytes('mine'), { ifNoneMatch: '*' }));
      expect(error.kind).toBe('transient');
      expect(error.message).toBe(
        `@blockvfs/store-gcs (gs://${BUCKET}/p/): put "c" (create if absent): outcome unknown after timeout (${TIMEOUT} ms), and reading it back failed: timeout (${TIMEOUT} ms)`,
      );
      expect(server.stalled.map((line) => line.split(' ')[0])).toEqual(['POST', 'GET', 'POST', 'GET']);
      expect(ms).toBeLessThan(4 * TIMEOUT + SLACK_MS);
      expect(await server.connectionsLeftOpen()).toBe(0);
    });

    it('false turns the timeout off: the call waits for as long as the server does', async () => {
      const s = store({ requestTimeoutMs: false, retry: false, bucket: localStorage(server.endpoint, { retryOptions: { autoRetry: false } }).bucket(BUCKET) });
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
      storage = localStorage(server.endpoint);
    });
  });

  describe('a server that answers half a body and stalls', () => {
    it('a download whose body stops half-way fails transient, its socket closed', async () => {
      server.rule = partialGcsAnswer;
      await expectTimedOut(store().get('db/log/000000000003'), 'get "db/log/000000000003"');
    });

    it('a listing whose page stops half-way fails transient, its socket closed', async () => {
      server.rule = partialGcsAnswer;
      await expectTimedOut(listAll(store()), 'list ""');
    });
  });
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
    expect((error as Error).message).toMatch(new RegExp(`@blockvfs/store-gcs \\(gs://${BUCKET}/e2e/\\): get "stall\\.db/blocks/[^"]+" timed out after ${E2E_TIMEOUT} ms`));
    expect(isBlockVfsError((error as Error).cause, 'transient')).toBe(true);
    expect(ms).toBeLessThan(ATTEMPTS * E2E_TIMEOUT + 2 * SLACK_MS);
    expect(server.stalled.length).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(await server.connectionsLeftOpen()).toBe(0);
    server.rule = () => 'forward';
    await db.close().catch(() => undefined);
  });
});
