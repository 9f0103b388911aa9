import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '@blockvfs/store-fs';
import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import { describe, it } from 'vitest';

// Each case gets its own temp folder, removed afterwards.
defineStoreConformanceTests({
  describe,
  it,
  name: 'FsStore',
  createStore: () => new FsStore({ root: mkdtempSync(join(tmpdir(), 'blockvfs-fs-conformance-')) }),
  destroyStore: (store) => rmSync((store as FsStore).root, { recursive: true, force: true }),
});
