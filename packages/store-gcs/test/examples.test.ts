import { fileURLToPath } from 'node:url';
import { gcsEnv } from '@blockvfs/test-servers';
import { cloudBlocks, runBlock, runSourceFile } from '@blockvfs/test-workloads';
import { describe, expect, it } from 'vitest';
import { target } from './gcs-target.js';

/**
 * What a user copies runs as it is against GCS, given only the standard environment
 * (standard-env.ts in test-servers): examples/quickstart.ts, and the README blocks that
 * need GCS (readme-blocks.test.ts in examples/ checks the others). Only against the test
 * server started for the run: they write outside this run's prefix.
 */
const local = target.target === 'test-server' && target.projectId !== undefined && target.apiEndpoint !== undefined;

describe.skipIf(!local)('examples on GCS (the local test server only)', () => {
  const env = local ? gcsEnv({ apiEndpoint: target.apiEndpoint!, projectId: target.projectId! }, target.bucket) : {};

  it('examples/quickstart.ts writes, queries and reopens its database', async () => {
    const run = await runSourceFile(fileURLToPath(new URL('../examples/quickstart.ts', import.meta.url)), { env });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('conditional writes by generation');
    expect(run.output).toContain('{ notes: 3 }');
  });

  describe('README blocks', () => {
    const blocks = cloudBlocks('gcs');
    if (blocks.length === 0) it.skip('none needs GCS', () => {});
    for (const block of blocks) {
      it(`${block.label} runs`, async () => {
        const run = await runBlock(block, { env });
        expect(run.code, `${block.label} exited with ${run.code ?? run.signal}:\n${run.output}`).toBe(0);
      });
    }
  });
});
