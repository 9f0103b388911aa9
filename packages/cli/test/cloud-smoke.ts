import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { makeSqliteFile } from './cli-suite.js';
import { runCli } from './run-cli.js';

/**
 * The round trip every cloud's URLs must make, as child processes: import a file, export
 * the same bytes, answer SQL, report itself, copy to a folder. The full suite runs on
 * the folder and on S3 (cli.test.ts, cli.s3.test.ts); this checks that gs:// and az://
 * URLs reach their stores with the credentials from the environment.
 */
export function defineCloudSmokeTest(name: string, url: (database: string) => string, env: NodeJS.ProcessEnv): void {
  const dir = mkdtempSync(join(tmpdir(), `blockvfs-cli-${name}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${name}: import, export, sql, info and cp to a folder`, { timeout: 180_000 }, async () => {
    const cli = (args: string[]) => runCli(args, { env });
    const file = join(dir, 'in.sqlite');
    const original = makeSqliteFile(file, 4096, 1500);
    const imported = await cli(['import', '-q', file, url('db')]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const exported = await cli(['export', url('db'), '-']);
    expect(exported.code).toBe(0);
    expect(exported.bytes.equals(original)).toBe(true);
    expect((await cli(['sql', '--format', 'json', url('db'), 'SELECT count(*) AS n FROM t'])).stdout.trim()).toBe('[{"n":1500}]');
    const info = JSON.parse((await cli(['info', '--json', url('db')])).stdout) as { layout: string; size: number };
    expect(info).toMatchObject({ layout: 'atomic', size: original.length });
    expect((await cli(['cp', '-q', url('db'), join(dir, 'copy', 'db')])).code).toBe(0);
    expect((await cli(['verify', join(dir, 'copy', 'db')])).code).toBe(0);
  });
}
