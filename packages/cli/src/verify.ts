import { hasAtomicDatabase, verifyObjects, type Layout, type VerifyProgress } from '@blockvfs/core';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import type { BlockStore } from '@blockvfs/core';
import { describeError } from './errors.js';

/**
 * `blockvfs verify`: the objects (core's verifyObjects: every record, checkpoint and
 * named block object against its checksum) and then SQLite's own `PRAGMA
 * integrity_check` through the VFS. A damaged block makes the integrity check fail
 * with an error naming the object; that is reported as a problem too.
 */
export interface DatabaseVerifyReport {
  ok: boolean;
  layout: Layout;
  problems: string[];
  checked: { records: number; checkpoints: number; blocks: number; bytes: number };
  /** What integrity_check said ("ok", or its findings), undefined when it was not run. */
  integrity: string[] | undefined;
}

export interface VerifyDatabaseOptions {
  store: BlockStore;
  name: string;
  /** Run PRAGMA integrity_check too (default true). */
  integrityCheck?: boolean;
  onProgress?: (progress: VerifyProgress) => void;
}

export async function verifyDatabase(options: VerifyDatabaseOptions): Promise<DatabaseVerifyReport> {
  const { store, name } = options;
  // Not inspectDatabase: it reads the whole history, and a damaged record would stop it before any report.
  const layout: Layout = (await hasAtomicDatabase(store, name)) ? 'atomic' : 'direct';
  const problems: string[] = [];
  let checked = { records: 0, checkpoints: 0, blocks: 0, bytes: 0 };
  if (layout === 'atomic') {
    const objects = await verifyObjects({ store, name, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
    problems.push(...objects.problems);
    checked = objects.checked;
  }
  let integrity: string[] | undefined;
  if (options.integrityCheck !== false) {
    try {
      const db = await openDatabase({ store, name, readOnly: true });
      try {
        const rows = await db.all<{ integrity_check: string }>('PRAGMA integrity_check');
        integrity = rows.map((row) => row.integrity_check);
      } finally {
        await db.close();
      }
    } catch (error) {
      integrity = [`failed: ${describeError(error)}`];
    }
    if (integrity.length !== 1 || integrity[0] !== 'ok') problems.push(...integrity.map((line) => `integrity_check: ${line}`));
  }
  return { ok: problems.length === 0, layout, problems, checked, integrity };
}
