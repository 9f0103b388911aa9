// The GcsStore a writer child process opens (see @blockvfs/test-workloads, processes.ts).
// Node runs this file as it is (type stripping): keep it to erasable TypeScript, and
// import only packages (this one's own name gives its build).
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
