import { fileURLToPath } from 'node:url';
import { s3Env } from '@blockvfs/test-servers';
import { cloudBlocks, runBlock, runSourceFile } from '@blockvfs/test-workloads';
import { describe, expect, it } from 'vitest';
import { describeS3 } from './s3-target.js';

/**
 * What a user copies runs as it is against S3, given only the standard environment
 * (standard-env.ts in test-servers): examples/quickstart.ts, and the README blocks that
 * need S3 (readme-blocks.test.ts in examples/ checks the others).
 */
describeS3('examples on S3', (target) => {
  const env = s3Env(target, target.bucket);

  // It writes under databases/ in the bucket, outside this run's prefix: only on a gateway started for the run.
  (target.server === 'ceph-rgw' ? it : it.skip)('examples/quickstart.ts writes, queries and lists its objects', async () => {
    const run = await runSourceFile(fileURLToPath(new URL('../examples/quickstart.ts', import.meta.url)), { env });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('SQLite does the rest');
    expect(run.output).toMatch(/on S3 under s3:\/\/blockvfs-test\/databases\/: app\.db\/log\/\d+/);
  });

  describe('README blocks', () => {
    for (const block of cloudBlocks('s3')) {
      it(`${block.label} runs`, async () => {
        const run = await runBlock(block, { env, timeoutMs: 240_000 });
        expect(run.code, `${block.label} exited with ${run.code ?? run.signal}:\n${run.output}`).toBe(0);
      }, 300_000);
    }
  });
});
