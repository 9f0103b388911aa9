import { describe, test } from 'vitest';
import { JOURNAL_MODES, LAYOUTS, runSqlMatrixCase } from '../src/index.js';
import { LOCAL_STORES } from './stores.js';

/**
 * The SQL matrix on the stores that need no server: both layouts × page sizes 512,
 * 4096 and 65536 × block sizes equal to, half of, four times and not a multiple of the
 * page size × the five rollback journal modes. (The cloud stores run a subset.)
 */

const PAGE_SIZES = [512, 4096, 65536];

function blockSizes(pageSize: number): Array<[string, number]> {
  return [
    ['= page', pageSize],
    ['page/2', pageSize / 2],
    ['page*4', pageSize * 4],
    ['page*3/2+1', (pageSize * 3) / 2 + 1],
  ];
}

const cases = PAGE_SIZES.flatMap((pageSize) =>
  blockSizes(pageSize).flatMap(([label, blockSize]) => JOURNAL_MODES.map((mode) => ({ pageSize, blockSize, label, mode }))),
);

describe.each(LAYOUTS.flatMap((layout) => LOCAL_STORES.map((store) => ({ layout, store, label: `${layout} layout, ${store.label} store` }))))(
  'SQL matrix: $label',
  ({ layout, store: factory }) => {
    test.each(cases)('page $pageSize, block $blockSize ($label), journal $mode', async ({ pageSize, blockSize, mode }) => {
      const { store, dispose } = await factory.create();
      try {
        await runSqlMatrixCase(store, { layout, pageSize, blockSize, mode });
      } finally {
        await dispose();
      }
    });
  },
);
