import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { FsStore } from '@blockvfs/store-fs';
import { defineCliTests } from './cli-suite.js';

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
