// The AzureBlobStore a writer child process opens (see @blockvfs/test-workloads, processes.ts).
// Node runs this file as it is (type stripping): keep it to erasable TypeScript, and
// import only packages (this one's own name gives its build).
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
