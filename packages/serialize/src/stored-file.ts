import { directBlockKey, openPagedFile, type PagedFile } from '@blockvfs/core/format';
import type { BlockStore } from '@blockvfs/core';
import { serializeError } from './errors.js';

/**
 * What serialize and deserialize need to know about a database file of the direct
 * layout on a store, beyond PagedFile: its block size, its rollback journal, and its
 * stale blocks. (The atomic layout needs none of it: its format knows its block size,
 * its journal lives in memory, and a file is replaced by one commit.)
 */

/** The name SQLite gives the rollback journal of database `name` (stored like any file in the direct layout). */
export function journalName(name: string): string {
  return `${name}-journal`;
}

export interface StoredFile {
  file: PagedFile;
  /** Block 0 as read to learn the block size: it holds the SQLite header, unless blocks are tiny. */
  firstBlock: Uint8Array;
}

/**
 * Opens the existing file `name` with the block size it was written with, or returns
 * undefined when it has no blocks. Block 0's length is that block size: every block
 * but the last is whole, and when block 0 is the only one any block size at least its
 * length reads it right. (openPagedFile would refuse a block size other than the
 * file's own, and the store has no other record of it.)
 */
export async function openStoredFile(store: BlockStore, name: string, layout: 'direct'): Promise<StoredFile | undefined> {
  const firstBlock = await store.get(directBlockKey(name, 0));
  if (firstBlock === undefined || firstBlock.length === 0) {
    // A write interrupted before block 0 went up can leave later blocks without it.
    if (await hasAnyBlock(store, name)) {
      throw serializeError('invalid', `database "${name}" has blocks but no block 0 (no header): a write to it was interrupted`, store.name);
    }
    return undefined;
  }
  return { file: await openPagedFile(store, name, { layout, blockSize: firstBlock.length }), firstBlock };
}

async function hasAnyBlock(store: BlockStore, name: string): Promise<boolean> {
  const prefix = `${name}/`;
  for await (const entry of store.list(prefix)) if (/^\d{10}$/.test(entry.key.slice(prefix.length))) return true;
  return false;
}

/**
 * Whether `<name>-journal` is a hot journal: one a writer left behind mid-commit, which
 * the next SQLite to open the database plays back. Like SQLite (pager.c,
 * hasHotJournal), a journal whose first byte is zero is not hot: that is how
 * journal_mode=PERSIST marks a finished transaction. An empty journal has no blocks.
 */
export async function hasHotJournal(store: BlockStore, name: string): Promise<boolean> {
  const first = await store.get(directBlockKey(journalName(name), 0), { offset: 0, length: 1 });
  return first !== undefined && first.length > 0 && first[0] !== 0;
}

/**
 * Deletes the blocks of file `name` from index `first` on, whatever block size they
 * were written with: after a file is rewritten with `first` blocks, those are what is
 * left of the longer file it replaced. Lists only the keys past the new last block.
 */
export async function deleteBlocksFrom(store: BlockStore, name: string, first: number): Promise<void> {
  const prefix = `${name}/`;
  const stale: string[] = [];
  const startAfter = first > 0 ? directBlockKey(name, first - 1) : undefined;
  for await (const entry of store.list(prefix, startAfter === undefined ? {} : { startAfter })) {
    const suffix = entry.key.slice(prefix.length);
    // Only block keys: `name/<10 digits>`; a file named e.g. `name/other` is not ours.
    if (/^\d{10}$/.test(suffix) && Number(suffix) >= first) stale.push(entry.key);
  }
  if (stale.length > 0) await store.delete(stale);
}
