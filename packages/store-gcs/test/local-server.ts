import { Storage, type StorageOptions } from '@google-cloud/storage';
import { startGcsTestServer, type GcsRequestInfo, type GcsTestServer } from '@blockvfs/test-servers';
import { afterAll, beforeAll } from 'vitest';

/**
 * A GCS test server of the test file's own, in the test's process, for tests that
 * inject faults or count HTTP requests (which the shared server of the `gcs` project,
 * running in vitest's main process, cannot offer). These tests check the store's own
 * behaviour, so they always run here, also when the other tests go to real GCS.
 */
export function useLocalServer(bucket: string): { server: () => GcsTestServer; storage: (options?: StorageOptions) => Storage } {
  let server: GcsTestServer | undefined;
  beforeAll(async () => {
    server = await startGcsTestServer({ buckets: [bucket] });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const get = (): GcsTestServer => {
    if (!server) throw new Error('the local GCS test server is not running');
    return server;
  };
  return {
    server: get,
    storage: (options = {}) => withoutEmulatorHost(() => new Storage({ apiEndpoint: get().apiEndpoint, projectId: get().projectId, ...options })),
  };
}

/**
 * The SDK sends its JSON-API requests to STORAGE_EMULATOR_HOST when that is set, even
 * with an apiEndpoint given (it reads the variable once, in the Storage constructor):
 * hide it meanwhile, so that a run pointed at an emulator still talks to our own server here.
 */
export function withoutEmulatorHost<T>(make: () => T): T {
  const saved = process.env.STORAGE_EMULATOR_HOST;
  delete process.env.STORAGE_EMULATOR_HOST;
  try {
    return make();
  } finally {
    if (saved !== undefined) process.env.STORAGE_EMULATOR_HOST = saved;
  }
}

/** The requests `run` made. */
export async function requestsDuring(server: GcsTestServer, run: () => Promise<unknown>): Promise<GcsRequestInfo[]> {
  const before = server.requests.length;
  await run();
  return server.requests.slice(before);
}

/** `GET o/…?alt=media`, `POST upload multipart`, …: a short description of a request, for assertions. */
export function describeRequest(request: GcsRequestInfo): string {
  const { method, path, query } = request;
  if (path.startsWith('/upload/')) return `${method} upload ${query.get('uploadType')}`;
  if (path.endsWith('/o')) return `${method} list`;
  if (query.get('alt') === 'media') return `${method} media`;
  return `${method} object`;
}
