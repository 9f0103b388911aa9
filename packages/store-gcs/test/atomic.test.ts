import { crashAtEveryRequest, gcBesideReaders, snapshotIsolation } from '@blockvfs/test-workloads';
import { afterAll, describe, expect, it } from 'vitest';
import { GcsStore } from '../src/index.js';
import { createStorage, emptyStore, freshPrefix, target } from './gcs-target.js';

/**
 * The atomic layout on GCS (generation preconditions): crash at a sample of request
 * indexes, snapshot isolation, garbage collection beside a reader and a writer. The
 * full crash sweep runs on the memory and fs stores; writer processes on fs and S3.
 */
describe(`atomic layout on GcsStore (${target.target})`, () => {
  const storage = createStorage();
  const stores: GcsStore[] = [];
  afterAll(async () => {
    for (const store of stores) await emptyStore(store);
  });
  const fresh = (label: string) => {
    const prefix = freshPrefix(label);
    const make = () => new GcsStore({ bucket: storage.bucket(target.bucket), prefix });
    const store = make();
    stores.push(store);
    return { store, reopen: make };
  };

  it('crash at a sample of request indexes, both modes: integrity ok, exactly the acknowledged commits', async () => {
    const report = await crashAtEveryRequest(
      { create: async () => ({ ...fresh('crash'), dispose: async () => undefined }) },
      { sample: (requests) => [...new Set([...Array.from({ length: Math.ceil(requests / 9) }, (_, i) => 1 + i * 9), requests - 1, requests])] },
    );
    console.log(`crash test on GCS (${target.target}): ${JSON.stringify(report)}`);
    expect(report.tried.crash).toBeGreaterThanOrEqual(8);
  }, 600_000);

  it('snapshot isolation: a long read transaction sees one commit while another process commits', async () => {
    await snapshotIsolation(fresh('snapshot'));
  }, 120_000);

  it('garbage collection beside a writer and a reader on an old snapshot', async () => {
    await gcBesideReaders(fresh('gc'));
  }, 120_000);
});
