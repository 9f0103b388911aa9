import { randomBytes } from 'node:crypto';
// Brings 'vitest' into the type program so that the augmentation below finds it
// (importing only 'vitest/node' leaves it out: TS2664). Erased at run time.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startGcsTestServer } from './gcs-server/server.js';

/** Where the `gcs` project's tests find GCS: what they get from `inject('gcs')`. */
export interface GcsTestConnection {
  /**
   * `test-server`: the repository's GCS test server on 127.0.0.1, started for this run;
   * `emulator`: whatever STORAGE_EMULATOR_HOST points at;
   * `gcs`: real Google Cloud Storage (GOOGLE_APPLICATION_CREDENTIALS + BLOCKVFS_GCS_BUCKET).
   */
  target: 'test-server' | 'emulator' | 'gcs';
  /** For `new Storage({ apiEndpoint, projectId })`; undefined for real GCS (the SDK's defaults and credentials). */
  apiEndpoint: string | undefined;
  projectId: string | undefined;
  /** An existing bucket the tests may write to (each test under a prefix of its own). */
  bucket: string;
  /** Unique per test run: tests put it first in their prefixes, so runs never share objects. */
  runId: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    gcs: GcsTestConnection;
  }
}

const TEST_BUCKET = 'blockvfs-test';

/**
 * Global setup of the `gcs` project. By default it starts the GCS test server on
 * 127.0.0.1 with one bucket. When STORAGE_EMULATOR_HOST is set, the tests use that
 * emulator instead (bucket BLOCKVFS_GCS_BUCKET, created if missing, default
 * `blockvfs-test`); when GOOGLE_APPLICATION_CREDENTIALS and BLOCKVFS_GCS_BUCKET are
 * set, they use that real bucket (it must exist; the tests delete what they write).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const emulator = process.env.STORAGE_EMULATOR_HOST;
  const realBucket = process.env.BLOCKVFS_GCS_BUCKET;
  if (emulator) {
    const bucket = realBucket || TEST_BUCKET;
    const projectId = process.env.GOOGLE_CLOUD_PROJECT || 'test';
    await createBucketIfMissing(emulator, projectId, bucket);
    project.provide('gcs', { target: 'emulator', apiEndpoint: emulator, projectId, bucket, runId });
    return async () => {};
  }
  if (process.env.GOOGLE_APPLICATION_CREDENTIALS && realBucket) {
    project.provide('gcs', { target: 'gcs', apiEndpoint: undefined, projectId: process.env.GOOGLE_CLOUD_PROJECT || undefined, bucket: realBucket, runId });
    return async () => {};
  }
  const server = await startGcsTestServer({ buckets: [TEST_BUCKET] });
  // If teardown never runs, the server dies with this process: it is in-process and unref'd.
  project.provide('gcs', { target: 'test-server', apiEndpoint: server.apiEndpoint, projectId: server.projectId, bucket: TEST_BUCKET, runId });
  return () => server.stop();
}

async function createBucketIfMissing(emulator: string, projectId: string, bucket: string): Promise<void> {
  const { Storage } = await import('@google-cloud/storage');
  const storage = new Storage({ apiEndpoint: emulator, projectId });
  const [exists] = await storage.bucket(bucket).exists();
  if (!exists) await storage.createBucket(bucket);
}
