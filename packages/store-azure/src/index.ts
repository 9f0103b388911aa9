export { AzureBlobStore, type AzureBlobStoreOptions } from './azure-store.js';
export { normaliseEtag, type AzureContainer } from './azure-sdk.js';
export { MAX_BATCH_DELETE } from './delete-blobs.js';
