import { describeList, withRequestTimeout, type ListEntry, type RequestTimeoutOption, type StoreErrors } from '@blockvfs/core/store';
import { normaliseEtag, type AzureContainer } from './azure-sdk.js';

/**
 * Entries per List Blobs request. Azure's default is 5000; 1000 is what S3 and GCS
 * return, what `withMetrics` models, and keeps a listing stopped after a few entries
 * from fetching megabytes of XML.
 */
export const LIST_PAGE_SIZE = 1000;

export interface ListBlobsRequest {
  /** Full blob-name prefix (the store's prefix plus the caller's). */
  prefix: string;
  /** Full blob name: only names strictly greater are wanted. */
  startAfter: string | undefined;
  /** Turns a blob name back into the caller's key. */
  keyOf: (name: string) => string;
  errors: StoreErrors;
  /** Per page request, its body included; false for none. */
  requestTimeoutMs: RequestTimeoutOption;
}

/**
 * Lists blobs under a prefix, in UTF-16 code-unit order as BlockStore promises.
 *
 * Azure has no "start after": List Blobs takes an opaque continuation marker and,
 * from service version 2026-02-06, `startFrom`, an inclusive starting name. We send
 * `startFrom` so that the service skips what comes before, and also drop names
 * `<= startAfter` here, which removes the inclusive name itself and keeps the result
 * right on a service that ignores `startFrom` (it then only costs more pages).
 *
 * Azure documents listing "in alphabetical order"; Azurite sorts by UTF-16 code
 * unit. Those can differ only for names mixing characters above U+FFFF with
 * U+E000–U+FFFF at the same position, so every name is checked against the one
 * before it: an out-of-order listing fails loudly instead of breaking the promise.
 *
 * The SDK takes one AbortSignal for the whole listing, so each page request is timed
 * on that one signal: a page that times out aborts the listing, which fails
 * `transient` (withRetry then lists again after the last key yielded).
 */
export async function* listBlobs(container: AzureContainer, request: ListBlobsRequest): AsyncGenerator<ListEntry> {
  const { prefix, startAfter, keyOf, errors, requestTimeoutMs } = request;
  // Every name under the prefix is >= prefix: a startAfter before it skips nothing.
  const skipTo = startAfter !== undefined && startAfter >= prefix ? startAfter : undefined;
  const listing = new AbortController();
  const abortSignal = requestTimeoutMs === false ? undefined : listing.signal;
  const pages = container
    .listBlobsFlat({ prefix, abortSignal, ...(skipTo === undefined ? {} : { startFrom: skipTo }) })
    .byPage({ maxPageSize: LIST_PAGE_SIZE });
  const iterator = pages[Symbol.asyncIterator]();
  let previous: string | undefined;
  try {
    for (;;) {
      let page;
      try {
        page = await withRequestTimeout(requestTimeoutMs, () => iterator.next(), listing);
      } catch (error) {
        throw errors.failed(describeList(keyOf(prefix), previous === undefined ? undefined : keyOf(previous)), error);
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        const name = item.name;
        if (!name.startsWith(prefix) || (skipTo !== undefined && name <= skipTo)) continue;
        if (previous !== undefined && name <= previous) {
          throw errors.error(
            'permanent',
            `list "${keyOf(prefix)}": the service listed "${keyOf(name)}" after "${keyOf(previous)}", not in the UTF-16 code-unit order a BlockStore promises`,
          );
        }
        previous = name;
        const etag = normaliseEtag(item.properties.etag);
        yield { key: keyOf(name), size: item.properties.contentLength ?? 0, ...(etag === undefined ? {} : { etag }) };
      }
    }
  } finally {
    await iterator.return?.();
  }
}
