import { BlobBatch } from '@azure/storage-blob';
import { withRequestTimeout, type RequestTimeoutOption } from '@blockvfs/core/store';
import { isAzureError, toStoreError } from './azure-errors.js';
import type { AzureContainer } from './container.js';

/** Azure's limit on sub-requests in one blob batch. */
export const MAX_BATCH_DELETE = 256;

/**
 * Deletes blobs, one request per 256 names: a single name is one plain Delete Blob,
 * more are one Blob Batch each (Azurite supports blob batch, so the emulator tests
 * run the same code as a real account). Batches go one after the other, so a
 * failure leaves the earlier batches done, as `withFaults` models it. A missing blob
 * is fine (BlobNotFound); snapshots, which the store never makes, go with their blob.
 * Each request (a Delete Blob, a batch) has the request timeout to itself.
 */
export async function deleteBlobs(
  container: AzureContainer,
  names: readonly string[],
  keyOf: (name: string) => string,
  store: string,
  requestTimeoutMs: RequestTimeoutOption,
): Promise<void> {
  for (let start = 0; start < names.length; start += MAX_BATCH_DELETE) {
    const part = names.slice(start, start + MAX_BATCH_DELETE);
    if (part.length === 1) await deleteOne(container, part[0] as string, keyOf, store, requestTimeoutMs);
    else await deleteBatch(container, part, keyOf, store, requestTimeoutMs);
  }
}

async function deleteOne(container: AzureContainer, name: string, keyOf: (name: string) => string, store: string, requestTimeoutMs: RequestTimeoutOption): Promise<void> {
  const blob = container.getBlockBlobClient(name);
  try {
    await withRequestTimeout(requestTimeoutMs, (abortSignal) => blob.delete({ deleteSnapshots: 'include', abortSignal }));
  } catch (error) {
    if (isAzureError(error, 404, 'BlobNotFound')) return;
    throw toStoreError(error, `delete "${keyOf(name)}"`, store);
  }
}

async function deleteBatch(
  container: AzureContainer,
  names: readonly string[],
  keyOf: (name: string) => string,
  store: string,
  requestTimeoutMs: RequestTimeoutOption,
): Promise<void> {
  const what = `delete ${names.length} keys from "${keyOf(names[0] as string)}"`;
  let response;
  try {
    // The batch is assembled here rather than with BlobBatchClient.deleteBlobs, which
    // drops its options on the way to the request (an abortSignal would never reach it).
    const batch = new BlobBatch();
    for (const name of names) await batch.deleteBlob(container.getBlockBlobClient(name), { deleteSnapshots: 'include' });
    const batchClient = container.getBlobBatchClient();
    response = await withRequestTimeout(requestTimeoutMs, (abortSignal) => batchClient.submitBatch(batch, { abortSignal }));
  } catch (error) {
    throw toStoreError(error, what, store);
  }
  // The batch itself succeeded (202); each sub-request has its own status.
  // Sub-responses come in sub-request order (the SDK places them by Content-ID).
  const failures = response.subResponses
    .map((sub, i) => ({ sub, name: names[i] }))
    .filter(({ sub }) => sub.status >= 300 && !(sub.status === 404 && sub.errorCode === 'BlobNotFound'));
  const [firstFailure] = failures;
  if (!firstFailure) return;
  const first = firstFailure.sub;
  // A sub-response carries a status and an error code, not a RestError: classify it the same way.
  const failure = { name: 'RestError', statusCode: first.status, code: first.errorCode, message: first.statusMessage };
  const key = firstFailure.name === undefined ? '?' : keyOf(firstFailure.name);
  throw toStoreError(failure, `${what} (${failures.length} of them failed, the first "${key}")`, store);
}
