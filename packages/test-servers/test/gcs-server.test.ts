import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { type ApiError, Storage, type Bucket } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsTestServer, type GcsTestServer } from '../src/index.js';

/**
 * The GCS test server checked against @google-cloud/storage itself: every call the
 * store makes, plus the ones a user of the SDK would try first (save() with its
 * default resumable upload, exists(), getMetadata()), answered as GCS answers them.
 */

/** Every address the SDK tried to connect to while the tests ran (net.client.socket fires for each new client socket). */
const connectAttempts: string[] = [];
const onSocket = (message: unknown): void => {
  const socket = (message as { socket: Socket }).socket;
  socket.on('connectionAttempt', (ip: string, port: number) => connectAttempts.push(`${ip}:${port}`));
  socket.on('lookup', (_error: Error | null, address: string, _family: unknown, host: string) => connectAttempts.push(`lookup ${host} → ${address}`));
};

let server: GcsTestServer;
let storage: Storage;
let bucket: Bucket;
/** The SDK would send JSON-API requests to STORAGE_EMULATOR_HOST, if set, whatever apiEndpoint says. */
const emulatorHost = process.env.STORAGE_EMULATOR_HOST;

beforeAll(async () => {
  delete process.env.STORAGE_EMULATOR_HOST;
  subscribe('net.client.socket', onSocket);
  server = await startGcsTestServer({ buckets: ['existing-bucket'] });
  storage = new Storage({ apiEndpoint: server.apiEndpoint, projectId: server.projectId });
  [bucket] = await storage.createBucket('sdk-test');
});

afterAll(async () => {
  if (emulatorHost !== undefined) process.env.STORAGE_EMULATOR_HOST = emulatorHost;
  unsubscribe('net.client.socket', onSocket);
  await server?.stop();
});

/** The SDK's error for `promise`, which must reject. */
async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected the call to fail');
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('GCS test server, driven by @google-cloud/storage', () => {
  it('binds to 127.0.0.1 only, on a port the OS chose', () => {
    expect(server.apiEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('creates buckets, gets them, refuses a second create with 409, 404s a missing one', async () => {
    const [metadata] = await bucket.getMetadata();
    expect(metadata.name).toBe('sdk-test');
    expect((await storage.bucket('existing-bucket').exists())[0]).toBe(true);
    expect((await storage.bucket('no-such-bucket').exists())[0]).toBe(false);
    expect((await failure(storage.createBucket('sdk-test'))).code).toBe(409);
    const missing = await failure(storage.bucket('no-such-bucket').file('x').download());
    expect(missing.code).toBe(404);
    const [listed] = await storage.getBuckets();
    expect(listed.map((b) => b.name)).toEqual(['existing-bucket', 'sdk-test']);
    const [created] = await storage.createBucket('to-delete');
    await created.delete();
    expect((await created.exists())[0]).toBe(false);
  });

  it('stores single-request uploads (multipart, as createWriteStream with resumable: false sends) with a generation', async () => {
    const file = bucket.file('simple/one');
    await file.save(bytes('hello'), { resumable: false });
    const [metadata] = await file.getMetadata();
    expect(metadata.size).toBe('5');
    expect(metadata.generation).toMatch(/^\d+$/);
    expect(metadata.metageneration).toBe('1');
    expect(metadata.md5Hash).toBe('XUFAKrxLKna5cZ2REBfFkg==');
    expect(metadata.crc32c).toBe('mnG7TA=='); // CRC32C("hello"), as GCS gives it
    expect((await file.download())[0].toString()).toBe('hello');
    const uploads = server.requests.filter((r) => r.path.startsWith('/upload/'));
    expect(uploads.at(-1)?.query.get('uploadType')).toBe('multipart');
  });

  it("stores the SDK's default resumable uploads, also several chunks long", async () => {
    const data = Buffer.alloc(3 * 256 * 1024 + 17, 7);
    await bucket.file('resumable/default').save(bytes('via a resumable session'));
    expect((await bucket.file('resumable/default').download())[0].toString()).toBe('via a resumable session');
    await bucket.file('resumable/chunked').save(data, { chunkSize: 256 * 1024 });
    expect((await bucket.file('resumable/chunked').download())[0].equals(data)).toBe(true);
  });

  it('takes uploadType=media uploads', async () => {
    const response = await fetch(`${server.apiEndpoint}/upload/storage/v1/b/sdk-test/o?uploadType=media&name=${encodeURIComponent('media/a b')}`, {
      method: 'POST',
      body: bytes('raw body'),
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.status).toBe(200);
    const resource = (await response.json()) as { name: string; size: string; contentType: string };
    expect(resource).toMatchObject({ name: 'media/a b', size: '8', contentType: 'text/plain' });
    expect((await bucket.file('media/a b').download())[0].toString()).toBe('raw body');
  });

  it('refuses an upload whose declared crc32c or md5Hash does not match its bytes (400), storing nothing', async () => {
    const file = bucket.file('hash/checked');
    const wrongCrc = await failure(file.save(bytes('data'), { resumable: false, validation: false, metadata: { crc32c: 'AAAAAA==' } }));
    expect(wrongCrc.code).toBe(400);
    const wrongMd5 = await failure(file.save(bytes('data'), { resumable: false, validation: false, metadata: { md5Hash: 'XUFAKrxLKna5cZ2REBfFkg==' } }));
    expect(wrongMd5.code).toBe(400);
    expect((await file.exists())[0]).toBe(false);
    await file.save(bytes('hello'), { resumable: false, validation: false, metadata: { crc32c: 'mnG7TA==' } });
    expect((await file.exists())[0]).toBe(true);
  });

  it('round-trips names with slashes, spaces, percent signs, unicode and URL punctuation', async () => {
    const names = ['a/b/c', 'with space', 'percent%2F%41', 'plus+amp&hash#q?', 'unicode/é/日本', "quote'paren(s)*"];
    for (const name of names) await bucket.file(name).save(bytes(`content of ${name}`), { resumable: false });
    for (const name of names) expect((await bucket.file(name).download())[0].toString()).toBe(`content of ${name}`);
    const [files] = await bucket.getFiles();
    for (const name of names) expect(files.map((f) => f.name)).toContain(name);
  });

  it('answers ranged downloads with exactly the bytes asked for (end inclusive), and 416 past the end', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const file = bucket.file('ranges/r');
    await file.save(data, { resumable: false });
    expect((await file.download({ start: 10, end: 19 }))[0].equals(data.subarray(10, 20))).toBe(true);
    expect((await file.download({ start: 990 }))[0].equals(data.subarray(990))).toBe(true);
    expect((await file.download({ start: 990, end: 5000 }))[0].equals(data.subarray(990))).toBe(true);
    expect((await file.download({ start: 999, end: 999 }))[0].equals(data.subarray(999))).toBe(true);
    expect((await file.download({ end: -5 }))[0].equals(data.subarray(995))).toBe(true);
    expect((await failure(file.download({ start: 1000 }))).code).toBe(416);
    expect((await failure(file.download({ start: 5000, end: 5010 }))).code).toBe(416);
    const response = await fetch(`${server.apiEndpoint}/storage/v1/b/sdk-test/o/ranges%2Fr?alt=media`, { headers: { range: 'bytes=100-199' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe('bytes 100-199/1000');
    await bucket.file('ranges/empty').save(Buffer.alloc(0), { resumable: false });
    expect((await bucket.file('ranges/empty').download())[0].length).toBe(0);
    expect((await failure(bucket.file('ranges/empty').download({ start: 0 }))).code).toBe(416);
  });

  it('sends x-goog-hash, so that the SDK validates full downloads', async () => {
    const response = await fetch(`${server.apiEndpoint}/storage/v1/b/sdk-test/o/simple%2Fone?alt=media`);
    expect(response.headers.get('x-goog-hash')).toBe('crc32c=mnG7TA==,md5=XUFAKrxLKna5cZ2REBfFkg==');
    expect(response.headers.get('x-goog-stored-content-encoding')).toBe('identity');
    expect(response.headers.get('x-goog-generation')).toMatch(/^\d+$/);
  });

  it('404s a missing object in GCS error shape, for metadata, download and delete', async () => {
    const file = bucket.file('missing/object');
    for (const call of [file.getMetadata(), file.download(), file.delete()]) {
      const error = await failure(call);
      expect(error.code).toBe(404);
      expect(error.message).toContain('No such object: sdk-test/missing/object');
    }
    expect((await file.exists())[0]).toBe(false);
    await file.delete({ ignoreNotFound: true });
    const raw = await fetch(`${server.apiEndpoint}/storage/v1/b/sdk-test/o/missing%2Fobject`);
    expect(raw.status).toBe(404);
    expect(await raw.json()).toEqual({
      error: {
        code: 404,
        message: 'No such object: sdk-test/missing/object',
        errors: [{ message: 'No such object: sdk-test/missing/object', domain: 'global', reason: 'notFound' }],
      },
    });
  });

  describe('preconditions', () => {
    it('ifGenerationMatch: 0 creates only an absent object, else 412', async () => {
      const file = bucket.file('cond/create');
      await file.save(bytes('first'), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
      const lost = await failure(file.save(bytes('second'), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }));
      expect(lost.code).toBe(412);
      expect((await file.download())[0].toString()).toBe('first');
      // The resumable path checks them too.
      expect((await failure(file.save(bytes('third'), { preconditionOpts: { ifGenerationMatch: 0 } }))).code).toBe(412);
      expect((await file.download())[0].toString()).toBe('first');
    });

    it('ifGenerationMatch: <generation> replaces only that generation, else 412', async () => {
      const file = bucket.file('cond/replace');
      await file.save(bytes('v1'), { resumable: false });
      const [v1] = await file.getMetadata();
      await file.save(bytes('v2'), { resumable: false, preconditionOpts: { ifGenerationMatch: v1.generation as string } });
      const [v2] = await file.getMetadata();
      expect(BigInt(v2.generation as string)).toBeGreaterThan(BigInt(v1.generation as string));
      const stale = await failure(file.save(bytes('v3'), { resumable: false, preconditionOpts: { ifGenerationMatch: v1.generation as string } }));
      expect(stale.code).toBe(412);
      const absent = await failure(
        bucket.file('cond/never').save(bytes('x'), { resumable: false, preconditionOpts: { ifGenerationMatch: v2.generation as string } }),
      );
      expect(absent.code).toBe(412);
      expect((await bucket.file('cond/never').exists())[0]).toBe(false);
      expect((await file.download())[0].toString()).toBe('v2');
    });

    it('ifGenerationNotMatch, ifMetagenerationMatch and ifMetagenerationNotMatch give 412 when they fail', async () => {
      const file = bucket.file('cond/meta');
      await file.save(bytes('m'), { resumable: false });
      const [m] = await file.getMetadata();
      const generation = m.generation as string;
      expect((await failure(file.save(bytes('n'), { resumable: false, preconditionOpts: { ifGenerationNotMatch: generation } }))).code).toBe(412);
      expect((await failure(file.getMetadata({ ifGenerationNotMatch: generation }))).code).toBe(412);
      expect((await failure(file.getMetadata({ ifMetagenerationMatch: 2 }))).code).toBe(412);
      const [patched] = await file.setMetadata({ metadata: { color: 'blue' } }, { ifMetagenerationMatch: 1 });
      expect(patched.metageneration).toBe('2');
      expect(patched.metadata).toEqual({ color: 'blue' });
      expect((await failure(file.setMetadata({ metadata: { color: 'red' } }, { ifMetagenerationMatch: 1 }))).code).toBe(412);
      expect((await failure(file.getMetadata({ ifMetagenerationNotMatch: 2 }))).code).toBe(412);
      const [same] = await file.getMetadata({ ifGenerationMatch: generation, ifMetagenerationMatch: 2 });
      expect(same.metadata).toEqual({ color: 'blue' });
    });

    it('deletes only the matching generation, else 412', async () => {
      const file = bucket.file('cond/delete');
      await file.save(bytes('d'), { resumable: false });
      const [d] = await file.getMetadata();
      expect((await failure(file.delete({ ifGenerationMatch: 1 }))).code).toBe(412);
      await file.delete({ ifGenerationMatch: d.generation as string });
      expect((await file.exists())[0]).toBe(false);
    });

    it('of 32 racing creates with ifGenerationMatch: 0, exactly one wins', async () => {
      const file = bucket.file('cond/race');
      const results = await Promise.allSettled(
        Array.from({ length: 32 }, (_, i) =>
          bucket.file(file.name).save(bytes(`racer ${i}`), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as ApiError).code).toBe(412);
    });
  });

  describe('listing', () => {
    const names = ['l/a', 'l/b', 'l/b/1', 'l/b/2', 'l/c', 'l/d-', 'l/d/x', 'l/é', 'l/日', 'm/1'];
    beforeAll(async () => {
      await Promise.all(names.map((name) => bucket.file(name).save(bytes(name), { resumable: false })));
    });

    const listAll = async (query: Record<string, unknown>): Promise<{ names: string[]; pages: number; prefixes: string[] }> => {
      const all: string[] = [];
      const prefixes: string[] = [];
      let pages = 0;
      let next: Record<string, unknown> | null = { ...query, autoPaginate: false };
      while (next) {
        const [files, nextQuery, response] = (await bucket.getFiles(next)) as [{ name: string }[], Record<string, unknown> | null, { prefixes?: string[] }];
        pages += 1;
        all.push(...files.map((f) => f.name));
        prefixes.push(...(response.prefixes ?? []));
        // The SDK deletes autoPaginate from the query it sends (and hands back in nextQuery): set it again.
        next = nextQuery && { ...nextQuery, autoPaginate: false };
      }
      return { names: all, pages, prefixes };
    };

    it('lists by prefix in UTF-8 byte order, paginating with maxResults and pageToken', async () => {
      const got = await listAll({ prefix: 'l/', maxResults: 3 });
      expect(got.names).toEqual(['l/a', 'l/b', 'l/b/1', 'l/b/2', 'l/c', 'l/d-', 'l/d/x', 'l/é', 'l/日']);
      expect(got.pages).toBe(3);
      expect((await listAll({ prefix: 'l/b' })).names).toEqual(['l/b', 'l/b/1', 'l/b/2']);
      expect((await listAll({ prefix: 'nothing/' })).names).toEqual([]);
    });

    it('starts at startOffset (inclusive) and stops before endOffset (exclusive)', async () => {
      expect((await listAll({ prefix: 'l/', startOffset: 'l/b/1', maxResults: 2 })).names).toEqual(['l/b/1', 'l/b/2', 'l/c', 'l/d-', 'l/d/x', 'l/é', 'l/日']);
      expect((await listAll({ prefix: 'l/', startOffset: 'l/b/10' })).names).toEqual(['l/b/2', 'l/c', 'l/d-', 'l/d/x', 'l/é', 'l/日']);
      expect((await listAll({ startOffset: 'l/c', endOffset: 'l/é' })).names).toEqual(['l/c', 'l/d-', 'l/d/x']);
      expect((await listAll({ startOffset: 'l/日', endOffset: 'm/2' })).names).toEqual(['l/日', 'm/1']);
    });

    it('rolls names up to prefixes with a delimiter', async () => {
      const got = await listAll({ prefix: 'l/', delimiter: '/' });
      expect(got.names).toEqual(['l/a', 'l/b', 'l/c', 'l/d-', 'l/é', 'l/日']);
      expect(got.prefixes).toEqual(['l/b/', 'l/d/']);
    });

    it('pages through thousands of objects, 1000 at most per page', async () => {
      const many = Array.from({ length: 2345 }, (_, i) => `many/${i}`);
      for (let i = 0; i < many.length; i += 100)
        await Promise.all(many.slice(i, i + 100).map((name) => bucket.file(name).save(bytes(name), { resumable: false })));
      const got = await listAll({ prefix: 'many/' });
      expect(got.pages).toBe(3);
      expect(got.names).toEqual([...many].sort());
    });
  });

  it('deletes objects, after which they are gone from gets and lists', async () => {
    const file = bucket.file('del/one');
    await file.save(bytes('x'), { resumable: false });
    await file.delete();
    expect((await file.exists())[0]).toBe(false);
    const [files] = await bucket.getFiles({ prefix: 'del/' });
    expect(files).toHaveLength(0);
  });

  it('injects faults: an error status, a dropped connection, or a failure after the write happened', async () => {
    const file = bucket.file('faults/f');
    const noRetry = new Storage({ apiEndpoint: server.apiEndpoint, projectId: server.projectId, retryOptions: { autoRetry: false } })
      .bucket('sdk-test')
      .file('faults/f');
    server.injectFault({ status: 503, match: (r) => r.method === 'GET' });
    expect((await failure(noRetry.getMetadata())).code).toBe(503);
    server.injectFault({ status: 'drop' });
    await expect(noRetry.getMetadata()).rejects.toThrow();
    server.injectFault({ status: 500, after: true, match: (r) => r.path.startsWith('/upload/') });
    expect((await failure(file.save(bytes('landed'), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }))).code).toBe(500);
    expect((await file.download())[0].toString()).toBe('landed');
  });

  it('never made the SDK connect anywhere but the server on 127.0.0.1 (no metadata server, no credential lookup)', () => {
    expect(connectAttempts.length).toBeGreaterThan(0);
    const elsewhere = connectAttempts.filter((attempt) => attempt !== `127.0.0.1:${server.port}` && !attempt.startsWith('lookup 127.0.0.1'));
    expect(elsewhere).toEqual([]);
  });
});
