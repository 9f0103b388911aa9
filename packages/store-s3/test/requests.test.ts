import { checkRequestBounds, countRequests, countTable, LAYOUTS } from '@blockvfs/test-workloads';
import { it } from 'vitest';
import { describeS3, s3Suite } from './s3-target.js';

/**
 * Requests per operation on S3 (counted with withMetrics: store calls, each one S3
 * request without faults), both layouts: open, a single-row commit, 1,000 cold point
 * queries, a full scan, over a table of 10,000 rows of 100 random characters. Printed
 * for the record, and bounded (checkRequestBounds) so that a change adding round trips fails.
 */
describeS3('S3Store request counts', (target) => {
  const suite = s3Suite(target);

  for (const layout of LAYOUTS) {
    it(`${layout} layout: open, one single-row commit, 1,000 cold point queries, a full scan`, async () => {
      const { store } = suite.fresh(`counts-${layout}`);
      const report = await countRequests(store, { layout });
      console.log(`request counts on ${target.server}, ${layout} layout, ${report.blocks} blocks of 4096 bytes:`);
      console.table(countTable(report));
      checkRequestBounds(report);
    }, 300_000);
  }
});
