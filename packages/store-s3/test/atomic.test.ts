import { fileURLToPath } from 'node:url';
import {
  concurrentIncrements,
  crashAtEveryRequest,
  gcBesideReaders,
  killWritersAtRandom,
  snapshotIsolation,
  type ChildStoreSpec,
} from '@blockvfs/test-workloads';
import { expect, it } from 'vitest';
import type { S3TestTarget } from '../../test-servers/src/vitest-setup-s3.js';
import { describeS3, emptyStore, s3Suite } from './s3-target.js';

/**
 * The atomic layout on S3 (Ceph RGW here, which enforces conditional PUTs): crash at a
 * sample of request indexes, snapshot isolation, garbage collection beside readers,
 * writer processes racing on one counter, and a writer killed with SIGKILL. The full
 * crash sweep runs on the memory and fs stores.
 */
describeS3('atomic layout on S3', (target) => {
  const suite = s3Suite(target);

  it('crash at a sample of request indexes, both modes: integrity ok, exactly the acknowledged commits', async () => {
    const report = await crashAtEveryRequest(
      {
        create: async () => {
          const { store, reopen } = suite.fresh('crash');
          return { store, reopen, dispose: () => emptyStore(store) };
        },
      },
      // Every 7th request and the last few: the commits' blocks, records and reads all get hit.
      { sample: (requests) => [...new Set([...Array.from({ length: Math.ceil(requests / 7) }, (_, i) => 1 + i * 7), requests - 2, requests - 1, requests])] },
    );
    console.log(`crash test on ${target.server}: ${JSON.stringify(report)}`);
    expect(report.tried.crash).toBeGreaterThanOrEqual(10);
  }, 600_000);

  it('snapshot isolation: a long read transaction sees one commit while another process commits', async () => {
    const { store, reopen } = suite.fresh('snapshot');
    await snapshotIsolation({ store, reopen });
  }, 120_000);

  it('garbage collection beside a writer and a reader on an old snapshot', async () => {
    const { store, reopen } = suite.fresh('gc');
    await gcBesideReaders({ store, reopen });
  }, 120_000);

  it('four processes increment one counter (busyTimeoutMs 60 s: racing writers take no turns, and this server is slow): nothing lost, nothing doubled', async () => {
    const { store, prefix } = suite.fresh('counter');
    const report = await concurrentIncrements({ store, child: childStore(target, prefix), writers: 4, increments: 15, busyTimeoutMs: 60_000 });
    console.log(`concurrent increments on ${target.server}: ${JSON.stringify(report)}`);
    expect(report.counter).toBe(60);
    expect(report.busy).toBeGreaterThanOrEqual(3); // the four writers' first increments collide
  }, 300_000);

  it('a writer killed with SIGKILL at random moments: the database reopens intact with every acknowledged commit', async () => {
    const { store, prefix } = suite.fresh('killed');
    const report = await killWritersAtRandom({ store, child: childStore(target, prefix), kills: 4, seed: 11 });
    console.log(`kill test on ${target.server}: ${JSON.stringify(report)}`);
    expect(report.acknowledged).toBeGreaterThan(4);
    expect(report.midCommit).toBeGreaterThan(0);
  }, 300_000);
});

/** How a child process reaches the same prefix. */
function childStore(target: S3TestTarget, prefix: string): ChildStoreSpec {
  const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, sessionToken, bucket } = target;
  return {
    module: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
    options: { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, sessionToken, bucket, prefix },
  };
}
