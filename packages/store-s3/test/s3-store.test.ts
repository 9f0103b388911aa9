import { createHash, randomBytes } from 'node:crypto';
import { ListObjectsV2Command, S3ServiceException } from '@aws-sdk/client-s3';
import { BlockVfsError, isBlockVfsError } from '@blockvfs/core';
import { expect, it } from 'vitest';
import { S3Store } from '../src/index.js';
import { createClient, describeS3, freshPrefix, s3Suite } from './s3-target.js';

const bytes = (text: string) => new TextEncoder().encode(text);

async function rejection(promise: Promise<unknown>): Promise<BlockVfsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof BlockVfsError)) throw new Error(`expected a BlockVfsError, got ${String(error)}`);
  return error;
}

describeS3('S3Store on S3', (target) => {
  const suite = s3Suite(target);
  const store = (label: string, options = {}) => suite.fresh(label, options).store;

  it('keeps every key under its prefix and lists them without it', async () => {
    const a = store('prefix-a');
    const b = store('prefix-b');
    await a.put('x/1', bytes('one'));
    await a.put('x/2', bytes('two'));
    await b.put('x/1', bytes('other'));
    const raw = await suite.client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: a.prefix }));
    expect(raw.Contents?.map((object) => object.Key)).toEqual([`${a.prefix}x/1`, `${a.prefix}x/2`]);
    const listed = [];
    for await (const entry of a.list('x/')) listed.push(entry);
    expect(listed).toEqual([
      { key: 'x/1', size: 3, etag: createHash('md5').update('one').digest('hex') },
      { key: 'x/2', size: 3, etag: createHash('md5').update('two').digest('hex') },
    ]);
    expect(new TextDecoder().decode(await b.get('x/1'))).toBe('other');
    expect(a.name).toBe(`s3://${target.bucket}/${a.prefix}`);
  });

  it('hands out bare etags (the MD5 of a single-part put) and takes ifMatch quoted or bare', async () => {
    const s = store('etag');
    const { etag } = await s.put('k', bytes('v1'));
    expect(etag).toBe(createHash('md5').update('v1').digest('hex'));
    // RGW compares If-Match with the unquoted etag: a quoted one must be unquoted before sending.
    const second = await s.put('k', bytes('v2'), { ifMatch: `"${etag}"` });
    const third = await s.put('k', bytes('v3'), { ifMatch: second.etag });
    expect(new TextDecoder().decode(await s.get('k'))).toBe('v3');
    const stale = await rejection(s.put('k', bytes('v4'), { ifMatch: etag }));
    expect(stale.kind).toBe('precondition-failed');
    expect(stale.message).toMatch(/^@blockvfs\/store-s3 \(s3:\/\/[^)]+\): put "k" \(if etag is [0-9a-f]{32}\) failed: PreconditionFailed \(HTTP 412\)/);
    expect(stale.cause).toBeInstanceOf(S3ServiceException);
    await s.put('k', bytes('v5'), { ifMatch: third.etag });
  });

  it('reads ranges: inside, clipped at the end, empty, past the end, of a missing key', async () => {
    const s = store('ranges');
    await s.put('r', bytes('0123456789'));
    await s.put('empty', new Uint8Array(0));
    const text = async (range: { offset: number; length?: number }, key = 'r') => {
      const data = await s.get(key, range);
      return data && new TextDecoder().decode(data);
    };
    expect(await text({ offset: 2, length: 3 })).toBe('234');
    expect(await text({ offset: 7 })).toBe('789');
    expect(await text({ offset: 8, length: 100 })).toBe('89');
    expect(await text({ offset: 0, length: 0 })).toBe('');
    expect(await text({ offset: 10 })).toBe('');
    expect(await text({ offset: 50, length: 2 })).toBe('');
    expect(await text({ offset: 0, length: 4 }, 'empty')).toBe('');
    expect(await text({ offset: 0, length: 4 }, 'missing')).toBeUndefined();
    expect(await text({ offset: 3, length: 0 }, 'missing')).toBeUndefined();
    expect(await rejection(s.get('r', { offset: -1 }))).toMatchObject({ kind: 'invalid' });
  });

  it('a missing bucket is a permanent error that names the store and keeps the SDK error', async () => {
    const bucket = `blockvfs-missing-${randomBytes(6).toString('hex')}`;
    const s = new S3Store({ client: suite.client, bucket, prefix: 'p/', retry: { baseDelayMs: 0 } });
    const error = await rejection(s.get('k'));
    expect(error.kind).toBe('permanent');
    expect(error.message).toMatch(new RegExp(`^@blockvfs/store-s3 \\(s3://${bucket}/p/\\): get "k" failed: NoSuchBucket \\(HTTP 404\\)`));
    expect(error.cause).toBeInstanceOf(S3ServiceException);
    expect((await rejection(s.put('k', bytes('x')))).kind).toBe('permanent');
    const listing = (async () => {
      for await (const _ of s.list('')) return;
    })();
    expect((await rejection(listing)).kind).toBe('permanent');
  });

  it('wrong credentials are a permanent error, not retried', async () => {
    const wrong = createClient({ ...target, secretAccessKey: 'not-the-secret' });
    let retries = 0;
    const s = new S3Store({ client: wrong, bucket: target.bucket, prefix: freshPrefix(target, 'creds'), retry: { onRetry: () => retries++ } });
    const error = await rejection(s.get('k'));
    expect(error.kind).toBe('permanent');
    expect(error.message).toMatch(/get "k" failed: (SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied) \(HTTP 403\)/);
    expect(retries).toBe(0);
    wrong.destroy();
  });

  it('a key the server refuses as too long is an invalid-request error', async () => {
    const s = store('long');
    const error = await rejection(s.put('k'.repeat(1100), bytes('x')));
    expect(error.kind).toBe('invalid');
    expect(error.message).toMatch(/\(HTTP 400\)/);
  });

  it('conditionalWrites: false announces it and refuses conditional puts without sending them', async () => {
    const s = store('nocond', { conditionalWrites: false });
    expect(s.capabilities).toEqual({ conditionalPut: false, rangeGet: true, maxDeleteBatch: 1000 });
    const error = await rejection(s.put('k', bytes('x'), { ifNoneMatch: '*' }));
    expect(error.kind).toBe('invalid');
    expect(error.message).toContain('conditionalWrites: false');
    expect(await s.get('k')).toBeUndefined();
    await s.put('k', bytes('plain puts still work'));
  });

  it('rejects bad options with an invalid error', () => {
    const make = (options: unknown) => () => new S3Store(options as ConstructorParameters<typeof S3Store>[0]);
    const { client } = suite;
    expect(make({ client, bucket: '' })).toThrow(/"bucket" must be a non-empty string/);
    expect(make({ bucket: 'b' })).toThrow(/"client" must be an S3Client/);
    expect(make({ client, bucket: 'b', prefix: 3 })).toThrow(/"prefix" must be a string/);
    try {
      make({ client, bucket: 'b', cache: { maxBytes: 1 << 20 } })(); // no cache option: it served the atomic layout's head stale
      expect.unreachable();
    } catch (error) {
      expect(isBlockVfsError(error, 'invalid')).toBe(true);
    }
  });
});
