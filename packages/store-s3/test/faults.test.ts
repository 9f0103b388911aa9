import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import { BlockVfsError, type RetryEvent } from '@blockvfs/core';
import { openDatabase, SqliteError } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { S3Store } from '../src/index.js';
import { objectKey, operation, startFaultProxy, type FaultAction, type FaultProxy, type SeenRequest } from './fault-proxy.js';
import { createClient, describeS3, emptyStore, freshPrefix } from './s3-target.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const md5 = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex');
const slowDown: FaultAction = { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };
const accessDenied: FaultAction = { status: 403, code: 'AccessDenied', message: 'Access Denied' };
const internalError: FaultAction = { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };

async function listAll(store: S3Store): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list('')) keys.push(entry.key);
  return keys;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describeS3(
  'S3Store behind a proxy that injects S3 errors',
  (target) => {
    let proxy: FaultProxy;
    /** Through the proxy, with the SDK's own retries off: every attempt below is one of withRetry's. */
    let client: S3Client;
    /** Straight to the server: to arrange and inspect objects behind the store's back. */
    let direct: S3Client;
    let store: S3Store;
    let behind: S3Store;
    let retries: RetryEvent[];
    const stores: S3Store[] = [];

    /** The requests the proxy saw, as `Operation key → status`. */
    const trace = () => proxy.seen.map((r: SeenRequest) => `${operation(r)} ${objectKey(r, target.bucket).slice(store.prefix.length)} → ${r.status}`);
    /** A rule that applies `actions` in turn to the requests `matches` picks, and forwards everything else. */
    const plan =
      (matches: (request: SeenRequest) => boolean, ...actions: FaultAction[]) =>
      (request: SeenRequest): FaultAction =>
        matches(request) ? (actions.shift() ?? 'forward') : 'forward';
    const is = (op: string) => (request: SeenRequest) => operation(request) === op;

    beforeAll(async () => {
      proxy = await startFaultProxy(target.endpoint);
      client = createClient({ ...target, endpoint: proxy.endpoint }, { maxAttempts: 1 });
      direct = createClient(target);
    });
    beforeEach(() => {
      const prefix = freshPrefix(target, 'faults');
      retries = [];
      store = new S3Store({ client, bucket: target.bucket, prefix, retry: { baseDelayMs: 1, maxDelayMs: 4, onRetry: (e) => retries.push(e) } });
      behind = new S3Store({ client: direct, bucket: target.bucket, prefix });
      stores.push(behind);
      proxy.rule = () => 'forward';
      proxy.seen.length = 0;
    });
    afterAll(async () => {
      for (const made of stores) await emptyStore(made);
      await proxy.close();
      client.destroy();
      direct.destroy();
    });

    it('retries 503 SlowDown with backoff until the server answers', async () => {
      await behind.put('k', bytes('value'));
      proxy.rule = plan(is('GetObject'), slowDown, slowDown);
      expect(new TextDecoder().decode(await store.get('k'))).toBe('value');
      expect(trace()).toEqual(['GetObject k → 503', 'GetObject k → 503', 'GetObject k → 200']);
      expect(retries.map((e) => [e.op, e.attempt, e.error.kind])).toEqual([
        ['get', 1, 'transient'],
        ['get', 2, 'transient'],
      ]);
      expect(retries[0]?.error.message).toBe(`@blockvfs/store-s3 (${store.name}): get "k" failed: SlowDown (HTTP 503): Please reduce your request rate.`);
    });

    it('retries 429, 500 and a dropped connection on put, delete and list too', async () => {
      proxy.rule = plan(is('PutObject'), { status: 429, code: 'TooManyRequests' }, 'reset');
      await store.put('a', bytes('1'));
      proxy.rule = plan(is('DeleteObjects'), internalError);
      await store.delete(['a']);
      await behind.put('b', bytes('2'));
      proxy.rule = plan(is('ListObjectsV2'), slowDown);
      const keys = [];
      for await (const entry of store.list('')) keys.push(entry.key);
      expect(keys).toEqual(['b']);
      expect(await behind.get('a')).toBeUndefined();
      expect(trace()).toEqual([
        'PutObject a → 429',
        'PutObject a → undefined', // the connection was dropped: no status
        'PutObject a → 200',
        'DeleteObjects  → 500',
        'DeleteObjects  → 200',
        'ListObjectsV2  → 503',
        'ListObjectsV2  → 200',
      ]);
      expect(retries.map((e) => e.op)).toEqual(['put', 'put', 'delete', 'list']);
    });

    it('gives up after the configured retries with the last transient error', async () => {
      proxy.rule = () => slowDown;
      const error = await rejection(store.get('k'));
      expect(error).toBeInstanceOf(BlockVfsError);
      expect(error).toMatchObject({ kind: 'transient' });
      expect(proxy.seen).toHaveLength(6); // 1 + withRetry's default 5 retries
    });

    it('does not retry 403 AccessDenied: one request, a permanent error with the S3 code and message', async () => {
      proxy.rule = () => accessDenied;
      for (const attempt of [store.get('k'), store.put('k', bytes('x')), store.delete(['k'])]) {
        const error = await rejection(attempt);
        expect(error).toMatchObject({ kind: 'permanent' });
        expect((error as Error).message).toMatch(
          /^@blockvfs\/store-s3 \(s3:\/\/.+\): (get "k"|put "k"|delete "k") failed: AccessDenied \(HTTP 403\): Access Denied$/,
        );
      }
      expect(trace()).toEqual(['GetObject k → 403', 'PutObject k → 403', 'DeleteObjects  → 403']);
      expect(retries).toEqual([]);
    });

    it('a missing bucket is permanent for every call, never "no such key", and says so', async () => {
      const missing = new S3Store({ client: direct, bucket: `no-such-bucket-${Date.now()}`, retry: false });
      const calls = [
        () => missing.get('k'),
        () => missing.put('k', bytes('x')),
        () => missing.put('k', bytes('x'), { ifNoneMatch: '*' }),
        () => missing.delete(['a', 'b']),
        () => listAll(missing),
      ];
      for (const call of calls) {
        const error = await rejection(call());
        expect(error).toMatchObject({ kind: 'permanent' });
        expect((error as Error).message).toContain('NoSuchBucket (HTTP 404)');
        expect((error as Error).message).toContain('(the bucket does not exist)');
      }
    });

    it('a refused connection is transient; a conditional put then has an unknown outcome, also transient', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const refused = createClient({ ...target, endpoint: `http://127.0.0.1:${port}` }, { maxAttempts: 1 });
      const unreachable = new S3Store({ client: refused, bucket: target.bucket, retry: false });
      for (const call of [
        () => unreachable.get('k'),
        () => unreachable.put('k', bytes('x')),
        () => unreachable.delete(['a', 'b']),
        () => listAll(unreachable),
      ]) {
        const error = await rejection(call());
        expect(error, String(error)).toMatchObject({ kind: 'transient' });
      }
      for (const condition of [{ ifNoneMatch: '*' as const }, { ifMatch: 'e' }]) {
        const error = await rejection(unreachable.put('k', bytes('x'), condition));
        expect(error).toMatchObject({ kind: 'transient' });
        expect((error as Error).message).toContain('outcome unknown after ECONNREFUSED');
      }
      refused.destroy();
    });

    it('sends DeleteObjects with a correct Content-MD5, and reports keys the answer lists as not deleted', async () => {
      await behind.put('gone', bytes('1'));
      await store.delete(['gone', 'never-was']);
      const [request] = proxy.seen;
      expect(request && operation(request)).toBe('DeleteObjects');
      expect(request?.headers['content-md5']).toBe(
        createHash('md5')
          .update(request?.body ?? '')
          .digest('base64'),
      );
      expect(await behind.get('gone')).toBeUndefined();

      // 200 with per-key <Error>s: S3's way of saying some keys were not deleted.
      const key = `${store.prefix}locked`;
      proxy.rule = () => ({
        reply: {
          status: 200,
          body: `<?xml version="1.0" encoding="UTF-8"?><DeleteResult><Error><Key>${key}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`,
        },
      });
      const error = await rejection(store.delete(['locked', 'other']));
      expect(error).toMatchObject({ kind: 'permanent' });
      expect((error as Error).message).toContain('delete 2 keys from "locked": 1 of 2 keys were not deleted: "locked" (AccessDenied: Access Denied)');
    });

    it('a 500 on a conditional put that did take effect: read back, our bytes are there, so it succeeded', async () => {
      proxy.rule = plan(is('PutObject'), { ...internalError, after: true });
      const created = await store.put('c', bytes('mine'), { ifNoneMatch: '*' });
      expect(created.etag).toBe(md5('mine'));
      expect(trace()).toEqual(['PutObject c → 500', 'GetObject c → 200']);

      proxy.seen.length = 0;
      proxy.rule = plan(is('PutObject'), { ...internalError, after: true });
      const replaced = await store.put('c', bytes('mine, v2'), { ifMatch: created.etag });
      expect(replaced.etag).toBe(md5('mine, v2'));
      expect(new TextDecoder().decode(await behind.get('c'))).toBe('mine, v2');
      expect(trace()).toEqual(['PutObject c → 500', 'GetObject c → 200']);
      expect(retries).toEqual([]);
    });

    it('a 500 on a conditional put that did not take effect: read back, nothing changed, so it is retried', async () => {
      proxy.rule = plan(is('PutObject'), internalError);
      const { etag } = await store.put('n', bytes('first'), { ifNoneMatch: '*' });
      expect(trace()).toEqual(['PutObject n → 500', 'GetObject n → 404', 'PutObject n → 200']);
      expect(retries[0]?.error.message).toContain('read back: it did not take effect');

      proxy.seen.length = 0;
      proxy.rule = plan(is('PutObject'), internalError);
      await store.put('n', bytes('second'), { ifMatch: etag });
      expect(trace()).toEqual(['PutObject n → 500', 'GetObject n → 200', 'PutObject n → 200']);
      expect(new TextDecoder().decode(await behind.get('n'))).toBe('second');
    });

    it('a 500 on a conditional put while another writer won: read back, their bytes, so precondition-failed', async () => {
      const { etag } = await behind.put('w', bytes('base'));
      proxy.rule = async (request) => {
        if (!is('PutObject')(request)) return 'forward';
        await behind.put('w', bytes('theirs')); // lands while our request is "failing"
        return internalError;
      };
      const error = await rejection(store.put('w', bytes('ours'), { ifMatch: etag }));
      expect(error).toMatchObject({ kind: 'precondition-failed' });
      expect((error as Error).message).toContain('read back: another writer replaced it');
      expect(new TextDecoder().decode(await behind.get('w'))).toBe('theirs');
    });

    it("the SDK's own retry of a conditional put that had landed gets 412: read back, it was ours", async () => {
      // A client as users make it, with the SDK's retries on (maxAttempts 3 by default).
      const retrying = createClient({ ...target, endpoint: proxy.endpoint });
      const s = new S3Store({ client: retrying, bucket: target.bucket, prefix: store.prefix, retry: false });
      proxy.rule = plan(is('PutObject'), { ...internalError, after: true });
      const { etag } = await s.put('sdk', bytes('landed'), { ifNoneMatch: '*' });
      expect(etag).toBe(md5('landed'));
      expect(trace()).toEqual(['PutObject sdk → 500', 'PutObject sdk → 412', 'GetObject sdk → 200']);
      // A genuine loser still loses: no retry, no read-back.
      proxy.seen.length = 0;
      expect(await rejection(s.put('sdk', bytes('again'), { ifNoneMatch: '*' }))).toMatchObject({ kind: 'precondition-failed' });
      expect(trace()).toEqual(['PutObject sdk → 412']);
      retrying.destroy();
    });

    it('an outcome that stays unknown (the read-back fails too) is settled by the next attempt', async () => {
      // put → 500 after landing; read-back → 503; withRetry's next put → 412 (it had landed): read back again.
      proxy.rule = plan((r) => is('PutObject')(r) || is('GetObject')(r), { ...internalError, after: true }, slowDown);
      const { etag } = await store.put('u', bytes('unknown'), { ifNoneMatch: '*' });
      expect(etag).toBe(md5('unknown'));
      expect(trace()).toEqual(['PutObject u → 500', 'GetObject u → 503', 'PutObject u → 412', 'GetObject u → 200']);
      expect(retries[0]?.error.message).toContain('outcome unknown after InternalError (HTTP 500)');
    });

    it('an SQL statement whose store request finally fails reports the store error', async () => {
      const db = await openDatabase({ store, name: 'faults.db' });
      await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      await db.run('INSERT INTO t (v) VALUES (?)', ['before']);
      proxy.rule = (request) => (is('PutObject')(request) ? accessDenied : 'forward');
      const error = await rejection(db.run('INSERT INTO t (v) VALUES (?)', ['refused']));
      expect(error).toBeInstanceOf(SqliteError);
      expect((error as Error).message).toContain(`@blockvfs/store-s3 (${store.name}): put "faults.db`);
      expect((error as Error).message).toContain('failed: AccessDenied (HTTP 403): Access Denied');
      expect((error as Error).cause).toMatchObject({ kind: 'permanent' });

      // Throttled on every write until retries run out: the transient error reaches SQL the same way.
      proxy.rule = (request) => (is('PutObject')(request) ? slowDown : 'forward');
      const throttled = await rejection(db.run('INSERT INTO t (v) VALUES (?)', ['throttled']));
      expect((throttled as Error).message).toContain('SlowDown (HTTP 503)');

      proxy.rule = () => 'forward';
      await db.close().catch(() => undefined);
      const reopened = await openDatabase({ store, name: 'faults.db' });
      expect(await reopened.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'before' }]);
      expect(await reopened.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      await reopened.close();
    });
  },
  { loopbackProxy: true },
);
