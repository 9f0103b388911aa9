import { fileURLToPath } from 'node:url';
import { azureEnv } from '@blockvfs/test-servers';
import { cloudBlocks, runBlock, runSourceFile } from '@blockvfs/test-workloads';
import { describe, expect, it } from 'vitest';
import { azureConnection } from './azure-fixture.js';

/**
 * What a user copies runs as it is against Azure, given only the standard environment
 * (standard-env.ts in test-servers): examples/quickstart.ts, and the README blocks that
 * need Azure (readme-blocks.test.ts in examples/ checks the others). Only against the
 * Azurite started for the run: they create containers of their own.
 */
const connection = azureConnection();

describe.skipIf(!connection.emulator)('examples on Azure Blob (Azurite only)', () => {
  const env = azureEnv(connection);

  it('examples/quickstart.ts writes, reads back and lists its blobs', async () => {
    const run = await runSourceFile(fileURLToPath(new URL('../examples/quickstart.ts', import.meta.url)), { env });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('a new process reads them back');
    expect(run.output).toContain("{ notes: 3 } { integrity_check: 'ok' }");
  });

  describe('README blocks', () => {
    const blocks = cloudBlocks('azure');
    if (blocks.length === 0) it.skip('none needs Azure', () => {});
    for (const block of blocks) {
      it(`${block.label} runs`, async () => {
        const run = await runBlock(block, { env });
        expect(run.code, `${block.label} exited with ${run.code ?? run.signal}:\n${run.output}`).toBe(0);
      });
    }
  });
});
