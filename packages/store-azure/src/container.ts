import type { ContainerClient } from '@azure/storage-blob';

/**
 * The part of `@azure/storage-blob`'s `ContainerClient` that the store uses. Pass a
 * real `ContainerClient` (from `BlobServiceClient.getContainerClient`, or `new
 * ContainerClient(url, credential)`); its credential, retry policy and pipeline are
 * the caller's choice.
 */
export type AzureContainer = Pick<ContainerClient, 'accountName' | 'containerName' | 'getBlockBlobClient' | 'getBlobBatchClient' | 'listBlobsFlat'>;
