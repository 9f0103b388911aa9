import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import { describe, it } from 'vitest';
import { createStorage, emptyStore, freshStore, target } from './gcs-target.js';

const storage = createStorage();

defineStoreConformanceTests({
  describe,
  it,
  name: `GcsStore (${target.target})`,
  createStore: () => freshStore(storage, 'conformance'),
  destroyStore: emptyStore,
  // Real GCS: fewer objects (each one is a billed request) and more time per case.
  ...(target.target === 'gcs' ? { scale: { listKeys: 1200, racers: 16, bigObjectBytes: 2 * 1024 * 1024 }, timeoutMs: 300_000 } : {}),
});
