// Making the scale step's databases quickly (issue 13, item 4): inserting 2 GB row by
// row through the VFS would take longer than everything it measures, so better-sqlite3
// writes the SQLite file in one statement at native speed, and deserialize stores it as
// one commit on a store without latency. None of this is measured.
import { createReadStream } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { DEFAULT_BLOCK_SIZE, type BlockStore } from '@blockvfs/core';
import { deserialize } from '@blockvfs/serialize';

/**
 * Characters of each row's `v` (hex of 240 random bytes). A row is then a 492-byte cell
 * with its pointer, and a 4 KiB leaf holds 8 of them whatever the rowid's size: at 500
 * characters it held 8 only while rowids fit 3 bytes (below 2,097,152), then 7, and the
 * 2 GB file came out 5% larger than asked.
 */
export const ROW_TEXT_LENGTH = 480;
/** What one row costs in the file: an eighth of a page. */
const BYTES_PER_ROW = 512;

export interface SqliteFile {
  bytes: number;
  rows: number;
}

/**
 * Writes `t(id INTEGER PRIMARY KEY, v TEXT)` with ids 1…rows to a new file at `path`
 * (4 KiB pages, rollback journal), of about `bytes` bytes. No journal and no syncs
 * while writing: a throwaway file, rebuilt from scratch if anything fails.
 */
export async function writeSqliteFile(path: string, bytes: number): Promise<SqliteFile> {
  const rows = Math.max(1, Math.round(bytes / BYTES_PER_ROW));
  const db = new Database(path);
  try {
    db.pragma('page_size = 4096');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.prepare(
      `WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < ?)
       INSERT INTO t (id, v) SELECT id, hex(randomblob(${ROW_TEXT_LENGTH / 2})) FROM n`,
    ).run(rows);
    // Stored in rollback-journal mode, as deserialize would store it anyway.
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
  return { bytes: (await stat(path)).size, rows };
}

/** Stores the file as database `name` at the project's default block size (read, not assumed: it may change). */
export async function importSqliteFile(store: BlockStore, name: string, path: string): Promise<void> {
  await deserialize({ store, name, source: createReadStream(path, { highWaterMark: 1 << 20 }), blockSize: DEFAULT_BLOCK_SIZE });
}

/**
 * Where the stores go: tmpfs (/dev/shm) when it has room for `bytes` twice over, else the
 * temp folder. FsStore fsyncs every object and its directory, and on this project's
 * 2-core test machine a disk takes ~140 such puts a second one at a time and ~450 with
 * 128 in flight: importing 2 GB (524,288 objects of 4 KiB) would take about 20 minutes,
 * and each commit of the updates ~7 ms. On tmpfs fsync costs nothing; the requests, and
 * so every figure but the GC's seconds, are the same.
 */
export async function storeFolder(bytes: number): Promise<string> {
  try {
    const fs = await statfs('/dev/shm');
    if (fs.bavail * fs.bsize >= 2 * bytes) return '/dev/shm';
  } catch {
    // No /dev/shm (macOS, Windows): the temp folder.
  }
  return tmpdir();
}
