import type { ListEntry } from '../block-store.js';

/**
 * How many entries one list request returns: S3's, GCS's and Azure's default page
 * size. A store paginates internally, so the layers cannot see its requests; they
 * count one request when a listing starts and one more for each further 1000
 * entries started, which is what those providers do.
 */
export const LIST_PAGE_SIZE = 1000;

export interface PageHooks {
  /** Before page `page` (1-based) is asked of the inner store. */
  before?(page: number): void | Promise<void>;
  /** After page `page` came back (with its first entry, or empty), before anything is yielded from it. */
  after?(page: number): void | Promise<void>;
  /** Each entry, as it is handed to the caller. */
  entry?(entry: ListEntry): void;
}

/**
 * Re-yields `source` with hooks around its modelled pages. Page 1 starts when the
 * caller first asks for an entry, so a listing that is never iterated costs nothing,
 * and one that finds no key is still one request. Page n > 1 starts at entry
 * (n-1)·1000 + 1: we only learn that it exists once the inner store has produced
 * that entry, so a listing of exactly 1000 keys is one request, as on S3.
 */
export async function* listInPages(source: AsyncIterable<ListEntry>, hooks: PageHooks): AsyncGenerator<ListEntry> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    await hooks.before?.(1);
    let next = await iterator.next();
    await hooks.after?.(1);
    for (let count = 0; !next.done; count++) {
      if (count > 0 && count % LIST_PAGE_SIZE === 0) {
        const page = count / LIST_PAGE_SIZE + 1;
        await hooks.before?.(page);
        await hooks.after?.(page);
      }
      hooks.entry?.(next.value);
      yield next.value;
      next = await iterator.next();
    }
    finished = true;
  } finally {
    // The caller stopped early (break) or a hook threw: let the inner store clean up.
    if (!finished) await iterator.return?.();
  }
}
