export { AzureBlobStore, type AzureBlobStoreOptions } from './azure-blob-store.js';
export type { AzureContainer } from './container.js';
export { normaliseEtag } from './etag.js';
export { MAX_BATCH_DELETE } from './delete-blobs.js';
