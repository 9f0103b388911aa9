import { MemoryStore } from '@blockvfs/store-memory';
import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import { describe, it } from 'vitest';

defineStoreConformanceTests({ describe, it, name: 'MemoryStore', createStore: () => new MemoryStore() });
