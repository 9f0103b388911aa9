import { checkRequestBounds, countRequests, countTable, LAYOUTS } from '@blockvfs/test-workloads';
import { describe, it } from 'vitest';
import { gcsSuite, target } from './gcs-target.js';

/**
 * Requests per operation on GCS (counted with withMetrics: store calls; a `delete` of
 * n keys is n GCS requests), both layouts: open, a single-row commit, 1,000 cold point
 * queries, a full scan, over a table of 10,000 rows of 100 random characters. Printed
 * for the record, and bounded (checkRequestBounds) so that a change adding round trips fails.
 */
describe(`GcsStore request counts (${target.target})`, () => {
  const suite = gcsSuite();

  for (const layout of LAYOUTS) {
    it(`${layout} layout: open, one single-row commit, 1,000 cold point queries, a full scan`, async () => {
      const { store } = suite.fresh(`counts-${layout}`);
      const report = await countRequests(store, { layout });
      console.log(`request counts on GCS (${target.target}), ${layout} layout, ${report.blocks} blocks of 4096 bytes:`);
      console.table(countTable(report));
      checkRequestBounds(report);
    }, 300_000);
  }
});
