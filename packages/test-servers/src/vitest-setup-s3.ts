import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { cephRgwMissing, startCephRgw, type S3Endpoint } from './ceph-rgw.js';

/** Where the S3 tests run: a bucket, and a prefix of their own in it. */
export interface S3TestTarget extends S3Endpoint {
  bucket: string;
  /** Unique to this test run (ends with `/`); the tests keep every object under it and delete them at the end. */
  prefix: string;
  /** Path-style URLs (`http://host/bucket/key`): what RGW and MinIO on loopback need. */
  forcePathStyle: boolean;
  /** AWS_SESSION_TOKEN, for temporary credentials. */
  sessionToken?: string;
  /** `ceph-rgw` when this run started the gateway, `external` for an endpoint given in the environment. */
  server: 'ceph-rgw' | 'external';
}

/** What the S3 tests get from `inject('s3')`: a target, or why there is none (the tests then skip, saying so). */
export type ProvidedS3 = { target: S3TestTarget; skipped?: undefined } | { target?: undefined; skipped: string };

declare module 'vitest' {
  export interface ProvidedContext {
    s3: ProvidedS3;
  }
}

/** The bucket the local gateway gets. */
export const S3_TEST_BUCKET = 'blockvfs-test';

/**
 * Global setup of the vitest `s3` project.
 *
 * With `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`), `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` and `BLOCKVFS_S3_BUCKET` set (plus `AWS_REGION`, default
 * us-east-1; `BLOCKVFS_S3_VIRTUAL_HOSTED=1` for virtual-hosted URLs), the tests run
 * against that endpoint, under a fresh prefix. Otherwise this starts Ceph RGW on
 * 127.0.0.1 and stops it afterwards, also when tests failed.
 *
 * When Ceph is not installed, the tests are skipped with the reason in their names;
 * in CI (`CI=true`, as `.ci/run` runs) or with `BLOCKVFS_REQUIRE_SERVERS=1` the run
 * fails instead: a CI run that skipped S3 would pass without testing it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runPrefix = `blockvfs-test-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}/`;
  const external = externalTarget(runPrefix);
  if (external) {
    project.provide('s3', { target: external });
    return async () => {};
  }

  const missing = cephRgwMissing();
  if (missing) {
    if (process.env.BLOCKVFS_REQUIRE_SERVERS === '1' || process.env.CI === 'true') throw new Error(`S3 tests cannot run: ${missing}`);
    console.warn(`\n!!! S3 tests SKIPPED: ${missing}\n`);
    project.provide('s3', { skipped: missing });
    return async () => {};
  }

  const rgw = await startCephRgw({ buckets: [S3_TEST_BUCKET] });
  project.provide('s3', {
    target: {
      endpoint: rgw.endpoint,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      region: rgw.region,
      bucket: S3_TEST_BUCKET,
      prefix: runPrefix,
      forcePathStyle: true,
      server: 'ceph-rgw',
    },
  });
  return () => rgw.stop();
}

function externalTarget(prefix: string): S3TestTarget | undefined {
  const env = process.env;
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, BLOCKVFS_S3_BUCKET: bucket } = env;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  if (!bucket) throw new Error('S3 tests: AWS_ENDPOINT_URL_S3 and credentials are set, but BLOCKVFS_S3_BUCKET (an existing bucket to test in) is not');
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    bucket,
    prefix,
    forcePathStyle: env.BLOCKVFS_S3_VIRTUAL_HOSTED !== '1',
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    server: 'external',
  };
}
