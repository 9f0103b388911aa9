import type { S3Client } from '@aws-sdk/client-s3';
import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import { afterAll, describe, it } from 'vitest';
import { createClient, describeS3, emptyStore, freshStore } from './s3-target.js';

describeS3('S3Store', (target) => {
  // The client as a user would make it (the SDK's default retries included), one for all cases.
  let client: S3Client | undefined;
  const sharedClient = (): S3Client => (client ??= createClient(target));
  afterAll(() => client?.destroy());

  defineStoreConformanceTests({
    describe,
    it,
    name: `S3Store on ${target.server} (${target.endpoint})`,
    // Every case gets a prefix of its own, so cases never see one another's objects.
    createStore: () => freshStore(target, sharedClient(), 'conformance'),
    destroyStore: emptyStore,
    timeoutMs: 120_000,
  });
});
