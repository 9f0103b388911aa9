import { Storage } from '@google-cloud/storage';
import { afterAll, describe, inject } from 'vitest';
import type {} from '../../test-servers/src/vitest-setup-gcs.js';
import { defineCloudSmokeTest } from './cloud-smoke.js';

// gs:// URLs on the 'gcs' project's server (the repository's GCS test server on 127.0.0.1), reached
// through STORAGE_EMULATOR_HOST as a user of an emulator would.
const gcs = inject('gcs');

describe('blockvfs on Google Cloud Storage', () => {
  const prefix = `cli-${gcs.runId}`;
  afterAll(async () => {
    const storage = new Storage({ ...(gcs.apiEndpoint ? { apiEndpoint: gcs.apiEndpoint } : {}), ...(gcs.projectId ? { projectId: gcs.projectId } : {}) });
    await storage.bucket(gcs.bucket).deleteFiles({ prefix: `${prefix}/` });
  });
  defineCloudSmokeTest('gcs', (name) => `gs://${gcs.bucket}/${prefix}/${name}`, {
    ...(gcs.apiEndpoint ? { STORAGE_EMULATOR_HOST: gcs.apiEndpoint } : {}),
    ...(gcs.projectId ? { GOOGLE_CLOUD_PROJECT: gcs.projectId } : {}),
  });
});
