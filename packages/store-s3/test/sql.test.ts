import type { S3Client } from '@aws-sdk/client-s3';
import { JOURNAL_MODES, LAYOUTS, runSqlMatrixCase } from '@blockvfs/test-workloads';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { S3Store } from '../src/index.js';
import { createClient, describeS3, emptyStore, freshStore } from './s3-target.js';

/**
 * The SQL matrix on S3, a subset: both layouts × every rollback journal mode × block =
 * page (the sqlite-s3vfs shape), and a small page in blocks that are not a multiple of it.
 */
const SHAPES = [
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 512, blockSize: 1000 },
] as const;

describeS3('SQL on S3Store', (target) => {
  let client: S3Client;
  const stores: S3Store[] = [];
  beforeAll(() => {
    client = createClient(target);
  });
  afterAll(async () => {
    for (const store of stores) await emptyStore(store);
    client.destroy();
  });

  for (const layout of LAYOUTS) {
    for (const { pageSize, blockSize } of SHAPES) {
      describe(`${layout} layout, page ${pageSize}, block ${blockSize}`, () => {
        for (const mode of JOURNAL_MODES) {
          it(`journal_mode=${mode}: transactions (one spilling the page cache, one rolled back), reopen: same rows, integrity ok`, async () => {
            const store = freshStore(target, client, `sql-${layout}-${mode}-${pageSize}`);
            stores.push(store);
            await runSqlMatrixCase(store, { layout, pageSize, blockSize, mode });
          });
        }
      });
    }
  }
});
