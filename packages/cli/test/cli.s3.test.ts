import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { BlockStore } from '@blockvfs/core';
import { FsStore } from '@blockvfs/store-fs';
import { S3Store } from '@blockvfs/store-s3';
import { createClient } from '../../store-s3/test/s3-target.js';
import type { ProvidedS3 } from '../../test-servers/src/vitest-setup-s3.js';
import { defineCliTests, makeSqliteFile } from './cli-suite.js';
import { runCli } from './run-cli.js';

// Every command as a child process on S3 (the 's3' vitest project: Ceph RGW on 127.0.0.1, or the
// endpoint in the environment), with s3:// URLs and the credentials in the usual AWS variables.
const provided: ProvidedS3 = inject('s3');
const target = provided.target;

if (!target) {
  describe('blockvfs on S3', () => it.skip(`SKIPPED, no S3 server: ${provided.skipped}`, () => {}));
} else {
  const env: NodeJS.ProcessEnv = {
    AWS_ENDPOINT_URL: target.endpoint,
    AWS_REGION: target.region,
    AWS_ACCESS_KEY_ID: target.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    ...(target.sessionToken ? { AWS_SESSION_TOKEN: target.sessionToken } : {}),
    ...(target.forcePathStyle ? {} : { AWS_S3_FORCE_PATH_STYLE: 'false' }),
  };
  const client = createClient(target);
  const stores: BlockStore[] = [];
  const local = mkdtempSync(join(tmpdir(), 'blockvfs-cli-s3-'));
  afterAll(async () => {
    for (const store of stores) {
      const keys: string[] = [];
      for await (const entry of store.list('')) keys.push(entry.key);
      await store.delete(keys);
    }
    client.destroy();
    rmSync(local, { recursive: true, force: true });
  });
  let counter = 0;
  const place = (label: string) => {
    counter += 1;
    const prefix = `${target.prefix}cli-${label}-${counter}/`;
    const store = new S3Store({ client, bucket: target.bucket, prefix });
    stores.push(store);
    return { url: (name: string) => `s3://${target.bucket}/${prefix}${name}`, store };
  };

  describe.concurrent(`blockvfs on S3 (${target.server}, ${target.endpoint})`, { timeout: 300_000 }, () => {
    defineCliTests({ env, place });

    it('cp copies S3 to a folder and back, and --endpoint names the server', async () => {
      const s3 = place('cp-folder');
      const file = join(local, 'cp.sqlite');
      const original = makeSqliteFile(file, 4096, 1500);
      const cli = (args: string[]) => runCli(args, { env });
      expect((await cli(['import', '-q', file, s3.url('db')])).code).toBe(0);
      const folder = join(local, 'copies');
      expect((await cli(['cp', '-q', s3.url('db'), join(folder, 'db')])).code).toBe(0);
      expect((await cli(['cp', '-q', `file:${join(folder, 'db')}`, s3.url('back')])).code).toBe(0);
      const back = await cli(['export', s3.url('back'), '-']);
      expect(back.bytes.equals(original)).toBe(true);
      const inFolder = await runCli(['export', join(folder, 'db'), '-']);
      expect(inFolder.bytes.equals(readFileSync(file))).toBe(true);
      expect(await new FsStore({ root: folder }).get('db/head')).toBeUndefined(); // one commit, no checkpoint yet
      // The endpoint as an option instead of AWS_ENDPOINT_URL.
      const { AWS_ENDPOINT_URL: endpoint, ...withoutEndpoint } = env;
      const viaOption = await runCli(['--endpoint', endpoint as string, 'sql', '--format', 'json', s3.url('back'), 'SELECT count(*) AS n FROM t'], {
        env: { ...withoutEndpoint, AWS_ENDPOINT_URL: '' },
      });
      expect(viaOption.stdout.trim()).toBe('[{"n":1500}]');
    });
  });
}
