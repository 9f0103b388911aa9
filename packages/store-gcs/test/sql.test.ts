import { CLOUD_MATRIX_CASES, runSqlMatrixCase } from '@blockvfs/test-workloads';
import { describe, it } from 'vitest';
import { gcsSuite, target } from './gcs-target.js';

/** The SQL matrix's cloud subset (CLOUD_MATRIX_CASES) on this store. */
describe(`SQL on GcsStore (${target.target})`, () => {
  const suite = gcsSuite();

  const title =
    '$layout layout, page $pageSize, block $blockSize, journal_mode=$mode: transactions (one spilling the page cache, one rolled back), reopen: same rows, integrity ok';
  it.each(CLOUD_MATRIX_CASES)(title, async (matrixCase) => {
    const { store } = suite.fresh(`sql-${matrixCase.layout}-${matrixCase.mode}-${matrixCase.pageSize}`);
    await runSqlMatrixCase(store, matrixCase);
  });
});
