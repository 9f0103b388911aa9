import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  checkedReadmes,
  isVerbatimExcerpt,
  publicPackageDirs,
  readmeBlocks,
  relativeLinks,
  REPOSITORY_ROOT,
  runBlock,
  testsRunning,
  typeCheckBlocks,
} from '@blockvfs/test-workloads';
import { describe, expect, it } from 'vitest';

/**
 * The READMEs' TypeScript and JavaScript blocks do what they show (readme-blocks.ts in
 * test-workloads says how a block is marked): those that run here run with Node and exit
 * 0; those that need a cloud run in that cloud's vitest project (examples.test.ts
 * of store-s3, -gcs, -azure), against its local server; twins are excerpts of a file a
 * test runs; every block that runs type-checks.
 */
const blocks = readmeBlocks();

describe('README code blocks', () => {
  it('are found in every README a user reads', () => {
    expect(checkedReadmes()).toEqual(expect.arrayContaining(['README.md', 'examples/README.md', 'packages/core/README.md', 'packages/store-s3/README.md']));
    expect(blocks.length).toBeGreaterThan(10);
  });

  for (const block of blocks) {
    const { marker } = block;
    if (marker.kind === 'not-run') {
      it.skip(`${block.label}: not run (${marker.reason})`, () => {});
    } else if (marker.kind === 'twin') {
      const twin = relative(REPOSITORY_ROOT, marker.path);
      it(`${block.label} is an excerpt of ${twin}, which a test runs`, () => {
        expect(existsSync(marker.path), `${twin} does not exist`).toBe(true);
        expect(isVerbatimExcerpt(block.code, readFileSync(marker.path, 'utf8')), `${block.label} is not verbatim in ${twin}:\n${block.code}`).toBe(true);
        expect(
          testsRunning(marker.path).map((test) => relative(REPOSITORY_ROOT, test)),
          `no test runs ${twin}`,
        ).not.toEqual([]);
      });
    } else if (block.cloud) {
      const cloudTest = join(REPOSITORY_ROOT, 'packages', `store-${block.cloud}`, 'test', 'examples.test.ts');
      it(`${block.label} runs in the ${block.cloud} project, against its local server`, () => {
        expect(
          existsSync(cloudTest) && readFileSync(cloudTest, 'utf8').includes(`cloudBlocks('${block.cloud}')`),
          `${relative(REPOSITORY_ROOT, cloudTest)} runs no cloudBlocks('${block.cloud}')`,
        ).toBe(true);
      });
    } else {
      it(`${block.label} runs`, async () => {
        const run = await runBlock(block);
        expect(run.code, `${block.label} (${relative(REPOSITORY_ROOT, run.file)}) exited with ${run.code ?? run.signal}:\n${run.output}`).toBe(0);
      });
    }
  }

  it('that run type-check, strict, against the packages', async () => {
    expect(await typeCheckBlocks(blocks)).toBe('');
  });
});

describe('public package READMEs', () => {
  for (const dir of publicPackageDirs()) {
    it(`${relative(REPOSITORY_ROOT, dir)}/README.md has no relative link (dead on the npm page)`, () => {
      expect(relativeLinks(join(dir, 'README.md'))).toEqual([]);
    });
  }
});
