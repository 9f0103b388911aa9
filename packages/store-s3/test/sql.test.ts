import { JOURNAL_MODES, LAYOUTS, runSqlMatrixCase } from '@blockvfs/test-workloads';
import { describe, it } from 'vitest';
import { describeS3, s3Suite } from './s3-target.js';

/**
 * The SQL matrix on S3, a subset: both layouts × every rollback journal mode × block =
 * page (the sqlite-s3vfs shape), and a small page in blocks that are not a multiple of it.
 */
const SHAPES = [
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 512, blockSize: 1000 },
] as const;

describeS3('SQL on S3Store', (target) => {
  const suite = s3Suite(target);

  for (const layout of LAYOUTS) {
    for (const { pageSize, blockSize } of SHAPES) {
      describe(`${layout} layout, page ${pageSize}, block ${blockSize}`, () => {
        for (const mode of JOURNAL_MODES) {
          it(`journal_mode=${mode}: transactions (one spilling the page cache, one rolled back), reopen: same rows, integrity ok`, async () => {
            const { store } = suite.fresh(`sql-${layout}-${mode}-${pageSize}`);
            await runSqlMatrixCase(store, { layout, pageSize, blockSize, mode });
          });
        }
      });
    }
  }
});
