import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { FsStore } from '@blockvfs/store-fs';
import { defineCliTests, makeSqliteFile } from './cli-suite.js';
import { cliCommand, cliEnv, runCli } from './run-cli.js';

// Every command as a child process, on a folder (FsStore): `./dir/name` URLs.
const root = mkdtempSync(join(tmpdir(), 'blockvfs-cli-fs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
// Concurrent: each test has a place of its own, and most of its time is child processes starting.
describe.concurrent('blockvfs on a folder', { timeout: 300_000 }, () => {
  defineCliTests({
    env: {},
    place: (label) => {
      counter += 1;
      const dir = join(root, `${label}-${counter}`);
      return { url: (name) => join(dir, name), store: new FsStore({ root: dir }) };
    },
  });
});

describe('export to stdout', { timeout: 120_000 }, () => {
  it('fails with a clear error, not a crash, when the reader goes away', async () => {
    const file = join(root, 'pipe.sqlite');
    makeSqliteFile(file, 4096, 3000);
    expect((await runCli(['import', '-q', file, join(root, 'pipe', 'db')])).code).toBe(0);
    const [node, ...args] = cliCommand();
    const child = spawn(node as string, [...args, 'export', join(root, 'pipe', 'db'), '-'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Read a little, then close the pipe, as `| head -c 100` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/blockvfs: stdout closed before the export ended \(EPIPE\)/);
  });
});
