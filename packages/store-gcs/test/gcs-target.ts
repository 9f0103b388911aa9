import { randomBytes } from 'node:crypto';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import type { BlockStore } from '@blockvfs/core';
import { afterAll, inject } from 'vitest';
import type { GcsTestConnection } from '../../test-servers/src/vitest-setup-gcs.js';
import { GcsStore, type GcsStoreOptions } from '../src/index.js';

/** Where the `gcs` project's global setup says GCS is: the test server, an emulator or real GCS. */
export const target: GcsTestConnection = inject('gcs');

/**
 * A Storage client for the target. With a custom apiEndpoint (test server, emulator)
 * the SDK sends no credentials and looks none up (it skips google-auth-library when
 * `customEndpoint` is set and `useAuthWithCustomEndpoint` is not), and with a projectId
 * it never asks the metadata server for one.
 */
export function createStorage(options: StorageOptions = {}): Storage {
  return new Storage({
    ...(target.apiEndpoint ? { apiEndpoint: target.apiEndpoint } : {}),
    ...(target.projectId ? { projectId: target.projectId } : {}),
    ...options,
  });
}

let counter = 0;

/** A prefix no other test uses, under the run's own prefix. */
export function freshPrefix(label: string): string {
  counter += 1;
  return `${target.runId}/${label}-${counter}-${randomBytes(3).toString('hex')}/`;
}

/** A GcsStore on a fresh prefix of the target bucket. */
export function freshStore(storage: Storage, label: string, options: Partial<GcsStoreOptions> = {}): GcsStore {
  return new GcsStore({ bucket: storage.bucket(target.bucket), prefix: freshPrefix(label), ...options });
}

/** Deletes every object of a store (what a test wrote under its prefix). */
export async function emptyStore(store: BlockStore): Promise<void> {
  const keys: string[] = [];
  for await (const entry of store.list('')) keys.push(entry.key);
  await store.delete(keys);
}

/**
 * Stores on fresh prefixes of the target bucket, emptied after the tests of the describe
 * block whose body calls this; `reopen()` makes another store object on the same prefix
 * (another "process").
 */
export function gcsSuite(storage: Storage = createStorage()): {
  storage: Storage;
  fresh(label: string, options?: Partial<GcsStoreOptions>): { store: GcsStore; prefix: string; reopen: () => GcsStore };
} {
  const stores: GcsStore[] = [];
  afterAll(async () => {
    for (const store of stores) await emptyStore(store);
  });
  return {
    storage,
    fresh(label, options = {}) {
      const prefix = freshPrefix(label);
      const reopen = () => new GcsStore({ bucket: storage.bucket(target.bucket), prefix, ...options });
      const store = reopen();
      stores.push(store);
      return { store, prefix, reopen };
    },
  };
}
