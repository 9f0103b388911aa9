// The part of `@azure/storage-blob` that AzureBlobStore uses, and the one form its etags are handed out in.
import type { ContainerClient } from '@azure/storage-blob';

/**
 * The part of `@azure/storage-blob`'s `ContainerClient` that the store uses. Pass a
 * real `ContainerClient` (from `BlobServiceClient.getContainerClient`, or `new
 * ContainerClient(url, credential)`); its credential, retry policy and pipeline are
 * the caller's choice.
 */
export type AzureContainer = Pick<ContainerClient, 'accountName' | 'containerName' | 'getBlockBlobClient' | 'getBlobBatchClient' | 'listBlobsFlat'>;

/**
 * Azure returns an ETag quoted in response headers (`"0x8DC…"`) and unquoted in list
 * results (`0x8DC…`). The store hands out one form, unquoted, so that an etag from
 * `put` equals the one `list` shows, and quotes it again when sending `If-Match`.
 */
export function normaliseEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const strong = etag.startsWith('W/') ? etag.slice(2) : etag;
  return strong.length >= 2 && strong.startsWith('"') && strong.endsWith('"') ? strong.slice(1, -1) : strong;
}

/** The `If-Match` value for an etag in either form. */
export function quoteEtag(etag: string): string {
  return `"${normaliseEtag(etag) ?? etag}"`;
}
