// The AzureBlobStore a writer child process opens (see @blockvfs/test-workloads, processes.ts).
// The child runs TypeScript sources (test-workloads, child-node.ts): import packages by
// name, this one's own included, and each resolves to its src/index.ts as under vitest.
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobStore } from '@blockvfs/store-azure';

interface ChildAzureOptions {
  connectionString: string;
  container: string;
  prefix: string;
}

export function createStore(options: ChildAzureOptions): AzureBlobStore {
  const container = BlobServiceClient.fromConnectionString(options.connectionString).getContainerClient(options.container);
  return new AzureBlobStore({ container, prefix: options.prefix });
}
