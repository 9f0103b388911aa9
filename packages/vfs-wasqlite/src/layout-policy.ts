import type { Layout } from '@blockvfs/core';
import { SQLITE_IOCAP_POWERSAFE_OVERWRITE } from './sqlite-codes.js';

/**
 * What the VFS does differently per on-store layout. The direct layout keeps SQLite's
 * rollback journal on the store (it is what makes a commit crash-safe there, blocks
 * being overwritten in place), so it must NOT advertise SQLITE_IOCAP_BATCH_ATOMIC.
 * The atomic layout (to come) will keep the journal in memory, advertise
 * BATCH_ATOMIC and turn SQLITE_FCNTL_BEGIN/COMMIT/ROLLBACK_ATOMIC_WRITE into one
 * commit of the PagedFile; it plugs in here.
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
}

const POLICIES: Record<Layout, LayoutPolicy> = {
  direct: { layout: 'direct', journal: 'store', mainDeviceCharacteristics: SQLITE_IOCAP_POWERSAFE_OVERWRITE },
};

export function layoutPolicy(layout: Layout): LayoutPolicy {
  return POLICIES[layout];
}
