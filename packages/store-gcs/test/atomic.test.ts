import { fileURLToPath } from 'node:url';
import { concurrentIncrements, crashAtEveryRequest, gcBesideReaders, killWritersAtRandom, snapshotIsolation } from '@blockvfs/test-workloads';
import { describe, expect, it } from 'vitest';
import { gcsSuite, target } from './gcs-target.js';

/**
 * The atomic layout on GCS (generation preconditions): crash at a sample of request
 * indexes, snapshot isolation, garbage collection beside a reader and a writer, writer
 * processes racing and killed. The full crash sweep runs on the memory and fs stores.
 */
describe(`atomic layout on GcsStore (${target.target})`, () => {
  const suite = gcsSuite();
  const fresh = (label: string) => {
    const { store, prefix, reopen } = suite.fresh(label);
    const child = {
      module: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
      options: { apiEndpoint: target.apiEndpoint, projectId: target.projectId, bucket: target.bucket, prefix },
    };
    return { store, reopen, child };
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

  it('four processes increment one counter (busyTimeoutMs 60 s: racing writers take no turns, and this server is slow): nothing lost, nothing doubled', async () => {
    const report = await concurrentIncrements({ ...fresh('counter'), writers: 4, increments: 10, busyTimeoutMs: 60_000 });
    console.log(`concurrent increments on GCS (${target.target}): ${JSON.stringify(report)}`);
    expect(report.counter).toBe(40);
    expect(report.busy).toBeGreaterThanOrEqual(3); // the four writers' first increments collide
  }, 300_000);

  it('a writer killed with SIGKILL at random moments: the database reopens intact with every acknowledged commit', async () => {
    const report = await killWritersAtRandom({ ...fresh('killed'), kills: 3, seed: 5 });
    console.log(`kill test on GCS (${target.target}): ${JSON.stringify(report)}`);
    expect(report.acknowledged).toBeGreaterThan(3);
    expect(report.midCommit).toBeGreaterThan(0);
  }, 300_000);
});
