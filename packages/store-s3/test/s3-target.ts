import { randomBytes } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { BlockStore } from '@blockvfs/core';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import type { ProvidedS3, S3TestTarget } from '../../test-servers/src/vitest-setup-s3.js';
import { S3Store, type S3StoreOptions } from '../src/index.js';

/** The server the `s3` project's global setup started (or was pointed at), or why there is none. */
const provided: ProvidedS3 = inject('s3');

/**
 * `describe`, when there is an S3 server; otherwise one skipped test whose name says
 * why, so a run without Ceph shows "skipped: Ceph RADOS Gateway is not installed…"
 * rather than passing quietly.
 */
export function describeS3(name: string, body: (target: S3TestTarget) => void, options: { loopbackProxy?: boolean } = {}): void {
  const { target, skipped } = provided;
  // The fault proxy speaks plain HTTP to a path-style endpoint (the local gateway, MinIO).
  const unproxyable = options.loopbackProxy && target && (!target.endpoint.startsWith('http://') || !target.forcePathStyle);
  if (target && !unproxyable) describe(name, () => body(target));
  else if (target) describe(name, () => it.skip(`SKIPPED: the fault proxy needs a plain-HTTP, path-style endpoint, not ${target.endpoint}`, () => {}));
  else describe(name, () => it.skip(`SKIPPED, no S3 server: ${skipped}`, () => {}));
}

/** An SDK client for the target. `maxAttempts` and the like can be overridden. */
export function createClient(target: S3TestTarget, config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    credentials: {
      accessKeyId: target.accessKeyId,
      secretAccessKey: target.secretAccessKey,
      ...(target.sessionToken ? { sessionToken: target.sessionToken } : {}),
    },
    ...config,
  });
}

let counter = 0;

/** A prefix no other test uses, under the run's own prefix. */
export function freshPrefix(target: S3TestTarget, label: string): string {
  counter += 1;
  return `${target.prefix}${label}-${counter}-${randomBytes(3).toString('hex')}/`;
}

/** An S3Store on a fresh prefix. */
export function freshStore(target: S3TestTarget, client: S3Client, label: string, options: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({ client, bucket: target.bucket, prefix: freshPrefix(target, label), ...options });
}

/** Deletes every object of a store (what a test wrote under its prefix). */
export async function emptyStore(store: BlockStore): Promise<void> {
  const keys: string[] = [];
  for await (const entry of store.list('')) keys.push(entry.key);
  await store.delete(keys);
}

/** What the tests of one describe block share (see s3Suite). */
export interface S3Suite {
  /** The block's SDK client: made before its tests, destroyed after them (use it inside tests and hooks). */
  readonly client: S3Client;
  /**
   * A store on a fresh prefix, emptied after the block's tests; `reopen()` makes another
   * store object on the same prefix (another "process").
   */
  fresh(label: string, options?: Partial<S3StoreOptions>): { store: S3Store; prefix: string; reopen: () => S3Store };
}

/** Registers the client and store clean-up of a describe block (call it in the block's body). */
export function s3Suite(target: S3TestTarget): S3Suite {
  let client: S3Client | undefined;
  const stores: S3Store[] = [];
  beforeAll(() => {
    client = createClient(target);
  });
  afterAll(async () => {
    for (const store of stores) await emptyStore(store);
    client?.destroy();
  });
  const suite: S3Suite = {
    get client() {
      if (!client) throw new Error('the suite’s S3 client exists only while its tests run');
      return client;
    },
    fresh(label, options = {}) {
      const prefix = freshPrefix(target, label);
      const reopen = () => new S3Store({ client: suite.client, bucket: target.bucket, prefix, ...options });
      const store = reopen();
      stores.push(store);
      return { store, prefix, reopen };
    },
  };
  return suite;
}
