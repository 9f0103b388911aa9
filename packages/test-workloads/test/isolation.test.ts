import { describe, test } from 'vitest';
import { gcBesideReaders, snapshotIsolation } from '../src/index.js';
import { LOCAL_STORES } from './stores.js';

describe.each(LOCAL_STORES)('atomic layout on the $label store', (factory) => {
  test('snapshot isolation: a long read transaction sees one commit while another process commits', async () => {
    const { store, reopen, dispose } = await factory.create();
    try {
      await snapshotIsolation({ store, reopen });
    } finally {
      await dispose();
    }
  });

  test('garbage collection beside a writer and a reader on an old snapshot: nothing they need goes inside the grace period; after it, the unreferenced objects do', async () => {
    const { store, reopen, dispose } = await factory.create();
    try {
      await gcBesideReaders({ store, reopen });
    } finally {
      await dispose();
    }
  });
});
