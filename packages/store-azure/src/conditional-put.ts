import { createHash, randomUUID } from 'node:crypto';
import { withRequestTimeout, type BlockVfsError, type PutCondition, type PutResult, type RequestTimeoutOption, type StoreErrors } from '@blockvfs/core/store';
import type { BlockBlobClient } from '@azure/storage-blob';
import { normaliseEtag, quoteEtag } from './azure-sdk.js';

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

export interface ConditionalPutRequest {
  blob: BlockBlobClient;
  data: Uint8Array;
  condition: PutCondition;
  /** The caller's key: `unresolved` is keyed by it. */
  key: string;
  /** `put "k" (if absent)`: the put, for messages. */
  what: string;
  errors: StoreErrors;
  requestTimeoutMs: RequestTimeoutOption;
  unresolved: UnresolvedPuts;
}

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
export async function conditionalPut(request: ConditionalPutRequest): Promise<PutResult> {
  const { blob, data, condition, key, what, errors, requestTimeoutMs, unresolved } = request;
  const digest = createHash('sha256').update(data).digest('hex');
  const earlier = unresolved.get(key);
  const putId = earlier?.digest === digest ? earlier.putId : randomUUID();
  unresolved.delete(key); // set again below if this attempt's outcome is unknown too
  const conditions = 'ifNoneMatch' in condition ? { ifNoneMatch: '*' } : { ifMatch: quoteEtag(condition.ifMatch) };
  try {
    const response = await withRequestTimeout(requestTimeoutMs, (abortSignal) =>
      blob.upload(data, data.length, { conditions, metadata: { [PUT_ID_METADATA]: putId }, abortSignal }),
    );
    return { etag: requireEtag(normaliseEtag(response.etag), what, errors) };
  } catch (error) {
    const kind = errors.kindOf(error);
    // 409 BlobAlreadyExists (if absent) or 412 (if etag): the condition did not hold when the put arrived.
    const lostCondition = kind === 'precondition-failed';
    if (!lostCondition && kind !== 'transient') throw errors.failed(what, error, kind);

    let current: { etag: string | undefined; putId: string | undefined } | undefined;
    try {
      const properties = await withRequestTimeout(requestTimeoutMs, (abortSignal) => blob.getProperties({ abortSignal }));
      current = { etag: normaliseEtag(properties.etag), putId: properties.metadata?.[PUT_ID_METADATA] };
    } catch (readError) {
      if (!errors.isMissingKey(readError)) {
        unresolved.set(key, { putId, digest });
        throw errors.outcomeUnknown(what, error, readError);
      }
    }
    if (current?.putId === putId) return { etag: requireEtag(current.etag, what, errors) };
    if (lostCondition) throw lost(errors, error, what, condition, current?.etag);
    const conditionStillHolds = 'ifNoneMatch' in condition ? current === undefined : current?.etag === normaliseEtag(condition.ifMatch);
    if (conditionStillHolds) throw errors.failed(what, error, kind);
    throw lost(errors, error, what, condition, current?.etag);
  }
}

function lost(errors: StoreErrors, error: unknown, what: string, condition: PutCondition, currentEtag: string | undefined): BlockVfsError {
  const why =
    'ifNoneMatch' in condition
      ? 'the blob already exists'
      : currentEtag === undefined
        ? 'the blob does not exist'
        : `its etag is ${currentEtag}, not ${normaliseEtag(condition.ifMatch)}`;
  return errors.error('precondition-failed', `${what} lost its condition: ${why}`, error);
}

export function requireEtag(etag: string | undefined, what: string, errors: StoreErrors): string {
  if (etag) return etag;
  throw errors.error('permanent', `${what}: the service returned no ETag`);
}
