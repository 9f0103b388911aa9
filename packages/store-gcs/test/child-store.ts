// The GcsStore a writer child process opens (see @blockvfs/test-workloads, processes.ts).
// The child runs TypeScript sources (test-workloads, child-node.ts): import packages by
// name, this one's own included, and each resolves to its src/index.ts as under vitest.
import { Storage } from '@google-cloud/storage';
import { GcsStore } from '@blockvfs/store-gcs';

interface ChildGcsOptions {
  apiEndpoint?: string;
  projectId?: string;
  bucket: string;
  prefix: string;
}

export function createStore(options: ChildGcsOptions): GcsStore {
  const storage = new Storage({
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
    ...(options.projectId ? { projectId: options.projectId } : {}),
  });
  return new GcsStore({ bucket: storage.bucket(options.bucket), prefix: options.prefix });
}
