import { createHash, randomUUID } from 'node:crypto';
import { BlockVfsError, withRequestTimeout, type PutCondition, type PutResult, type RequestTimeoutOption } from '@blockvfs/core/store';
import type { BlockBlobClient } from '@azure/storage-blob';
import { classify, describeFailure, isAzureError, toStoreError } from './azure-errors.js';
import { normaliseEtag, quoteEtag } from './etag.js';
import { SOURCE } from './keys.js';

/**
 * Metadata naming the put that wrote a blob (a random id per conditional put call).
 * It tells "my write landed" from "someone else's did" when the answer we got does
 * not say: after a lost connection or a 5xx, and after the SDK's own retry policy
 * re-sent a put whose first attempt had in fact succeeded (the re-send then loses
 * its condition against our own write: 409 or 412).
 */
export const PUT_ID_METADATA = 'blockvfsputid';

/**
 * Conditional puts of this store whose outcome is still unknown: key → the put id they
 * sent and a digest of their bytes. A later put of the same bytes to the same key (a
 * retry) sends the same put id, so that if the earlier attempt landed after all, the
 * retry's lost condition is recognised as our own write, not reported as a lost race.
 */
export type UnresolvedPuts = Map<string, { putId: string; digest: string }>;

/**
 * A put with `ifNoneMatch: '*'` or `ifMatch`, where a failed condition is a
 * `precondition-failed` error and an unknown outcome (no answer, a 5xx, the request
 * timeout passing) is resolved by reading the blob's properties back (one HEAD, with a
 * timeout of its own, only on those rare paths):
 *
 * - the blob carries our put id: our write landed, return its etag;
 * - it does not, and the condition can no longer hold (the blob exists, or its etag
 *   moved): `precondition-failed`;
 * - the condition still holds (no blob for ifNoneMatch, the same etag for ifMatch):
 *   nothing was written, so the error keeps its kind (`transient` for a 5xx), and a
 *   retry is safe;
 * - the read-back fails too: `transient`, saying the outcome is unknown (as the other
 *   cloud stores do); the put id is kept in `unresolved`, so that a retry of the same
 *   bytes recognises its own earlier write instead of reporting a lost race.
 */
export async function conditionalPut(
  blob: BlockBlobClient,
  data: Uint8Array,
  condition: PutCondition,
  what: string,
  store: string,
  requestTimeoutMs: RequestTimeoutOption,
  key: string,
  unresolved: UnresolvedPuts,
): Promise<PutResult> {
  const digest = createHash('sha256').update(data).digest('hex');
  const earlier = unresolved.get(key);
  const putId = earlier?.digest === digest ? earlier.putId : randomUUID();
  unresolved.delete(key); // set again below if this attempt's outcome is unknown too
  const conditions = 'ifNoneMatch' in condition ? { ifNoneMatch: '*' } : { ifMatch: quoteEtag(condition.ifMatch) };
  try {
    const response = await withRequestTimeout(requestTimeoutMs, (abortSignal) =>
      blob.upload(data, data.length, { conditions, metadata: { [PUT_ID_METADATA]: putId }, abortSignal }),
    );
    return { etag: requireEtag(normaliseEtag(response.etag), what, store) };
  } catch (error) {
    const lostCondition = isAzureError(error, 409, 'BlobAlreadyExists') || isAzureError(error, 412);
    const unknownOutcome = !lostCondition && classify(error) === 'transient';
    if (!lostCondition && !unknownOutcome) throw toStoreError(error, what, store);

    let current: { etag: string | undefined; putId: string | undefined } | undefined;
    try {
      const properties = await withRequestTimeout(requestTimeoutMs, (abortSignal) => blob.getProperties({ abortSignal }));
      current = { etag: normaliseEtag(properties.etag), putId: properties.metadata?.[PUT_ID_METADATA] };
    } catch (readError) {
      if (!isAzureError(readError, 404)) {
        unresolved.set(key, { putId, digest });
        const failure = describeFailure(readError).message;
        throw toStoreError(error, what, store, 'transient', `outcome unknown: reading the blob back failed too: ${failure}`);
      }
    }
    if (current?.putId === putId) return { etag: requireEtag(current.etag, what, store) };
    if (lostCondition) throw lost(error, what, store, condition, current?.etag);
    const conditionStillHolds = 'ifNoneMatch' in condition ? current === undefined : current?.etag === normaliseEtag(condition.ifMatch);
    if (conditionStillHolds) throw toStoreError(error, what, store);
    throw lost(error, what, store, condition, current?.etag);
  }
}

function lost(error: unknown, what: string, store: string, condition: PutCondition, currentEtag: string | undefined): BlockVfsError {
  const why =
    'ifNoneMatch' in condition
      ? 'the blob already exists'
      : currentEtag === undefined
        ? 'the blob does not exist'
        : `its etag is ${currentEtag}, not ${normaliseEtag(condition.ifMatch)}`;
  return new BlockVfsError('precondition-failed', `${what} lost its condition: ${why}`, { source: SOURCE, store, cause: error });
}

export function requireEtag(etag: string | undefined, what: string, store: string): string {
  if (etag) return etag;
  throw new BlockVfsError('permanent', `${what}: the service returned no ETag`, { source: SOURCE, store });
}
