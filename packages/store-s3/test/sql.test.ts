import { CLOUD_MATRIX_CASES, runSqlMatrixCase } from '@blockvfs/test-workloads';
import { it } from 'vitest';
import { describeS3, s3Suite } from './s3-target.js';

/** The SQL matrix's cloud subset (CLOUD_MATRIX_CASES) on this store. */
describeS3('SQL on S3Store', (target) => {
  const suite = s3Suite(target);

  const title =
    '$layout layout, page $pageSize, block $blockSize, journal_mode=$mode: transactions (one spilling the page cache, one rolled back), reopen: same rows, integrity ok';
  it.each(CLOUD_MATRIX_CASES)(title, async (matrixCase) => {
    const { store } = suite.fresh(`sql-${matrixCase.layout}-${matrixCase.mode}-${matrixCase.pageSize}`);
    await runSqlMatrixCase(store, matrixCase);
  });
});
