import type { ContainerClient } from '@azure/storage-blob';
import { fileURLToPath } from 'node:url';
import { concurrentIncrements, crashAtEveryRequest, gcBesideReaders, killWritersAtRandom, snapshotIsolation } from '@blockvfs/test-workloads';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { azureConnection, createTestContainer, deleteTestContainer } from './azure-fixture.js';

/**
 * The atomic layout on Azure Blob (ifNoneMatch / ifMatch): crash at a sample of request
 * indexes, snapshot isolation, garbage collection beside a reader and a writer, writer
 * processes racing and killed. The full crash sweep runs on the memory and fs stores.
 */
let container: ContainerClient;
let prefixes = 0;
beforeAll(async () => {
  container = await createTestContainer('atomic');
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

const fresh = () => {
  const prefix = `atomic-${++prefixes}/`;
  const make = () => new AzureBlobStore({ container, prefix });
  const child = {
    module: fileURLToPath(new URL('./child-store.ts', import.meta.url)),
    options: { connectionString: azureConnection().connectionString, container: container.containerName, prefix },
  };
  return { store: make(), reopen: make, child };
};

test('crash at a sample of request indexes, both modes: integrity ok, exactly the acknowledged commits', async () => {
  const report = await crashAtEveryRequest(
    { create: async () => ({ ...fresh(), dispose: async () => undefined }) },
    { sample: (requests) => [...new Set([...Array.from({ length: Math.ceil(requests / 9) }, (_, i) => 1 + i * 9), requests - 1, requests])] },
  );
  console.log(`crash test on Azure Blob (Azurite): ${JSON.stringify(report)}`);
  expect(report.tried.crash).toBeGreaterThanOrEqual(8);
}, 600_000);

test('snapshot isolation: a long read transaction sees one commit while another process commits', async () => {
  await snapshotIsolation(fresh());
}, 120_000);

test('garbage collection beside a writer and a reader on an old snapshot', async () => {
  await gcBesideReaders(fresh());
}, 120_000);

test('four processes increment one counter (busyTimeoutMs 60 s: racing writers take no turns, and this server is slow): nothing lost, nothing doubled', async () => {
  const report = await concurrentIncrements({ ...fresh(), writers: 4, increments: 10, busyTimeoutMs: 60_000 });
  console.log(`concurrent increments on Azure Blob (Azurite): ${JSON.stringify(report)}`);
  expect(report.counter).toBe(40);
  expect(report.busy).toBeGreaterThanOrEqual(3); // the four writers' first increments collide
}, 300_000);

test('a writer killed with SIGKILL at random moments: the database reopens intact with every acknowledged commit', async () => {
  const report = await killWritersAtRandom({ ...fresh(), kills: 3, seed: 5 });
  console.log(`kill test on Azure Blob (Azurite): ${JSON.stringify(report)}`);
  expect(report.acknowledged).toBeGreaterThan(3);
  expect(report.midCommit).toBeGreaterThan(0);
}, 300_000);
