import type { Layout } from '@blockvfs/core';
import { SQLITE_IOCAP_BATCH_ATOMIC, SQLITE_IOCAP_POWERSAFE_OVERWRITE } from './sqlite-codes.js';

/**
 * What the VFS does differently per on-store layout.
 *
 * - `direct`: SQLite's rollback journal lives on the store (it is what makes a commit
 *   crash-safe there, blocks being overwritten in place), so SQLITE_IOCAP_BATCH_ATOMIC
 *   must NOT be advertised.
 * - `atomic`: a commit is one commit record, all or nothing, made when SQLite syncs
 *   the database; the journal only serves rollbacks inside this process, so it stays
 *   in memory, and BATCH_ATOMIC is advertised: SQLite then writes no journal at all
 *   for most transactions. A store journal could never be hot (a crash loses nothing
 *   that was committed), so SQLite's hot-journal checks are answered without requests.
 */
export interface LayoutPolicy {
  readonly layout: Layout;
  /** Where the rollback journal (`<name>-journal`) lives. */
  readonly journal: 'store' | 'memory';
  /**
   * Device characteristics of the main database file. POWERSAFE_OVERWRITE holds for
   * every layout: writing part of a block re-puts the whole block object atomically,
   * with the neighbouring bytes unchanged, so SQLite need not journal neighbours.
   */
  readonly mainDeviceCharacteristics: number;
  /**
   * Whether the store can hold commits of other writers that this process must look
   * for: at the start of each read transaction (SHARED lock) the file is refreshed,
   * and before a write (RESERVED lock) the format may take its writer lease.
   */
  readonly versioned: boolean;
}

const POLICIES: Record<Layout, LayoutPolicy> = {
  direct: { layout: 'direct', journal: 'store', mainDeviceCharacteristics: SQLITE_IOCAP_POWERSAFE_OVERWRITE, versioned: false },
  atomic: {
    layout: 'atomic',
    journal: 'memory',
    mainDeviceCharacteristics: SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_BATCH_ATOMIC,
    versioned: true,
  },
};

export function layoutPolicy(layout: Layout): LayoutPolicy {
  return POLICIES[layout];
}
