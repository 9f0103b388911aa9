import { BlobBatch } from '@azure/storage-blob';
import { withRequestTimeout, type RequestTimeoutOption, type StoreErrors } from '@blockvfs/core/store';
import type { AzureContainer } from './azure-sdk.js';

/** Azure's limit on sub-requests in one blob batch. */
export const MAX_BATCH_DELETE = 256;

export interface DeleteBlobsContext {
  /** Turns a blob name back into the caller's key. */
  keyOf: (name: string) => string;
  /** `delete "k"`, `delete 3 keys from "k"`: one request, for messages. */
  describe: (names: readonly string[]) => string;
  errors: StoreErrors;
  /** Per request (a Delete Blob, a batch); false for none. */
  requestTimeoutMs: RequestTimeoutOption;
}

/**
 * Deletes blobs, one request per 256 names: a single name is one plain Delete Blob,
 * more are one Blob Batch each (Azurite supports blob batch, so the emulator tests
 * run the same code as a real account). Batches go one after the other, so a
 * failure leaves the earlier batches done, as `withFaults` models it. A missing blob
 * is fine (BlobNotFound); snapshots, which the store never makes, go with their blob.
 * Each request (a Delete Blob, a batch) has the request timeout to itself.
 */
export async function deleteBlobs(container: AzureContainer, names: readonly string[], context: DeleteBlobsContext): Promise<void> {
  for (let start = 0; start < names.length; start += MAX_BATCH_DELETE) {
    const part = names.slice(start, start + MAX_BATCH_DELETE);
    if (part.length === 1) await deleteOne(container, part[0] as string, context);
    else await deleteBatch(container, part, context);
  }
}

async function deleteOne(container: AzureContainer, name: string, { describe, errors, requestTimeoutMs }: DeleteBlobsContext): Promise<void> {
  const blob = container.getBlockBlobClient(name);
  try {
    await withRequestTimeout(requestTimeoutMs, (abortSignal) => blob.delete({ deleteSnapshots: 'include', abortSignal }));
  } catch (error) {
    if (errors.isMissingKey(error)) return;
    throw errors.failed(describe([name]), error);
  }
}

async function deleteBatch(
  container: AzureContainer,
  names: readonly string[],
  { keyOf, describe, errors, requestTimeoutMs }: DeleteBlobsContext,
): Promise<void> {
  const what = describe(names);
  let response;
  try {
    // The batch is assembled here rather than with BlobBatchClient.deleteBlobs, which
    // drops its options on the way to the request (an abortSignal would never reach it).
    const batch = new BlobBatch();
    for (const name of names) await batch.deleteBlob(container.getBlockBlobClient(name), { deleteSnapshots: 'include' });
    const batchClient = container.getBlobBatchClient();
    response = await withRequestTimeout(requestTimeoutMs, (abortSignal) => batchClient.submitBatch(batch, { abortSignal }));
  } catch (error) {
    throw errors.failed(what, error);
  }
  // The batch itself succeeded (202); each sub-request has its own status.
  // Sub-responses come in sub-request order (the SDK places them by Content-ID).
  const failures = response.subResponses
    .map((sub, i) => ({ sub, name: names[i] }))
    .filter(({ sub }) => sub.status >= 300 && !errors.isMissingKey({ statusCode: sub.status, code: sub.errorCode }));
  const [firstFailure] = failures;
  if (!firstFailure) return;
  const first = firstFailure.sub;
  // A sub-response carries a status and an error code, not a RestError: classify it the same way.
  const failure = { name: 'RestError', statusCode: first.status, code: first.errorCode, message: first.statusMessage };
  const key = firstFailure.name === undefined ? '?' : keyOf(firstFailure.name);
  throw errors.failed(`${what} (${failures.length} of them failed, the first "${key}")`, failure);
}
