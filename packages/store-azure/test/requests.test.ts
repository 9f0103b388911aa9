import type { ContainerClient } from '@azure/storage-blob';
import { checkRequestBounds, countRequests, countTable, LAYOUTS } from '@blockvfs/test-workloads';
import { afterAll, beforeAll, test } from 'vitest';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { createTestContainer, deleteTestContainer } from './azure-fixture.js';

/**
 * Requests per operation on Azure Blob (counted with withMetrics: store calls), both
 * layouts: open, a single-row commit, 1,000 cold point queries, a full scan, over a
 * table of 10,000 rows of 100 random characters. Printed for the record, and bounded
 * (checkRequestBounds) so that a change adding round trips fails.
 */
let container: ContainerClient;
beforeAll(async () => {
  container = await createTestContainer('requests');
});
afterAll(async () => {
  if (container) await deleteTestContainer(container);
});

test.each(LAYOUTS)(
  '%s layout: open, one single-row commit, 1,000 cold point queries, a full scan',
  async (layout) => {
    const report = await countRequests(new AzureBlobStore({ container, prefix: `${layout}/` }), { layout });
    console.log(`request counts on Azure Blob (Azurite), ${layout} layout, ${report.blocks} blocks of 4096 bytes:`);
    console.table(countTable(report));
    checkRequestBounds(report);
  },
  300_000,
);
