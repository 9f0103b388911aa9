import type { BlockStore } from '@blockvfs/core';
import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import type { ContainerClient } from '@azure/storage-blob';
import { describe, it } from 'vitest';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { createTestContainer, deleteTestContainer } from './azure-fixture.js';

// A container per case, deleted afterwards. (A prefix per case in one shared container
// would do on a real account, but Azurite's in-memory index slows down with every blob
// a container holds: the big delete case took over a minute that way.) The store gets
// a prefix, so it must map keys onto blob names it does not own entirely.
const containers = new Map<BlockStore, ContainerClient>();

defineStoreConformanceTests({
  describe,
  it,
  name: 'AzureBlobStore',
  createStore: async () => {
    const container = await createTestContainer('conformance');
    const store = new AzureBlobStore({ container, prefix: 'db/' });
    containers.set(store, container);
    return store;
  },
  destroyStore: async (store) => {
    const container = containers.get(store);
    containers.delete(store);
    if (container) await deleteTestContainer(container);
  },
});
