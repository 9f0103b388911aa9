import { verifyObjects, withRequestLog, type BlockStore, type RequestEvent } from '@blockvfs/core';
import { setSegmentMinimum } from '@blockvfs/core/testing';
import { MemoryStore } from '@blockvfs/store-memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

/**
 * A segmented checkpoint's root carries the map entries of the blocks holding B-tree
 * interior pages (docs/atomic-format.md §5), so that a cold lookup loads no segment
 * before its leaf's. Here one page per block and segments of 4 blocks make a table of
 * a few MB "large": its B-tree has three levels, and a point query on a fresh
 * connection reads the root (page 2: block 1, in segment 0, which the open fetches), one
 * of two interior pages below it, and a leaf.
 */

const ROWS = 20_000;
const PAGE = 4096;
const SEGMENT_KEY = /\/checkpoint\/\d+\.\d+\.\d+$/;
const BLOCK_KEY = /\/blocks\/\d+\.\d+\.[0-9a-f]+$/;

let minimum: number;
beforeAll(() => {
  minimum = setSegmentMinimum(4);
});
afterAll(() => {
  setSegmentMinimum(minimum);
});

/** GETs by kind of `query` on a new connection (a store object of its own: nothing cached), after its open. */
async function coldQuery(base: BlockStore, query: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<unknown>) {
  const keys: string[] = [];
  let counting = false;
  const store = withRequestLog(base, (event: RequestEvent) => {
    if (counting && event.op === 'get') keys.push(event.key);
  });
  const db = await openDatabase({ store, name: 'hot.db' });
  try {
    counting = true;
    await query(db);
    return { segments: keys.filter((key) => SEGMENT_KEY.test(key)).length, blocks: keys.filter((key) => BLOCK_KEY.test(key)).length };
  } finally {
    await db.close();
  }
}

/** A table of ROWS rows in `name`, checkpointed, on a file of `blockSize`-byte blocks (4 KiB pages). */
async function tableOf(base: BlockStore, name: string, blockSize: number): Promise<void> {
  const db = await openDatabase({ store: base, name, pageSize: PAGE, blockSize });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = await db.prepare('INSERT INTO t VALUES (?, ?)');
  await db.transaction(async () => {
    for (let id = 1; id <= ROWS; id++) await insert.run([id, `row ${id} `.padEnd(100, 'x')]);
  });
  await insert.finalize();
  // An odd number of pages: with blocks of two pages, the last block is half full.
  const { pages } = (await db.get('SELECT page_count AS pages FROM pragma_page_count()')) as { pages: number };
  if (blockSize === 2 * PAGE && pages % 2 === 0) await db.exec('CREATE TABLE pad (x)');
  await db.checkpoint();
  await db.close();
}

describe('hot blocks of a segmented checkpoint', () => {
  it('spare a cold point query every segment but its leaf’s, and outlive a checkpoint by a writer that read none of them', async () => {
    const base = new MemoryStore();
    await tableOf(base, 'hot.db', PAGE);

    const ids = Array.from({ length: 12 }, (_, i) => 1 + Math.floor(((i + 0.5) * ROWS) / 12));
    const queries = async () => {
      const counts = [];
      for (const id of ids) {
        counts.push(
          await coldQuery(base, async (cold) => {
            expect(await cold.get('SELECT id FROM t WHERE id = ?', [id])).toEqual({ id });
          }),
        );
      }
      return counts;
    };
    for (const { segments, blocks } of await queries()) {
      // The root (page 2: block 1), an interior page and a leaf; only the leaf's segment is loaded.
      expect(blocks).toBe(3);
      expect(segments).toBeLessThanOrEqual(1);
    }

    // A new connection that reads nothing of the tree commits and writes a checkpoint: it keeps the hot entries it opened with.
    const writer = await openDatabase({ store: base, name: 'hot.db' });
    await writer.exec("CREATE TABLE other (x); INSERT INTO other VALUES ('a')");
    await writer.checkpoint();
    for (const { segments } of await queries()) expect(segments).toBeLessThanOrEqual(1);

    // Rows appended in small commits (each carried inline in its record) split leaves and change interior pages;
    // the checkpoint folds those blocks, and its root must name them as the segments do (verify compares the two).
    const append = await writer.prepare('INSERT INTO t VALUES (?, ?)');
    for (let id = ROWS + 1; id <= ROWS + 400; id++) await append.run([id, `row ${id} `.padEnd(100, 'x')]);
    await append.finalize();
    await writer.checkpoint();
    await writer.close();
    const report = await verifyObjects({ store: base, name: 'hot.db' });
    expect(report.problems).toEqual([]);
    const last = await coldQuery(base, async (cold) => {
      expect(await cold.get('SELECT count(*) AS n FROM t WHERE id > ?', [ROWS])).toEqual({ n: 400 });
    });
    expect(last.blocks).toBeGreaterThan(0);
  });

  it('spare a cold single-row commit that keeps the file’s size the segment of its last block', async () => {
    const base = new MemoryStore();
    await tableOf(base, 'hot.db', 2 * PAGE);
    for (const id of [2_000, 9_000, 16_000]) {
      const counts = await coldQuery(base, (cold) => cold.run('UPDATE t SET v = ? WHERE id = ?', [`new ${id} `.padEnd(100, 'y'), id]));
      // An interior page and a leaf (the root is in block 0, read by the open); the leaf's segment only.
      expect(counts).toEqual({ blocks: 2, segments: 1 });
    }
  });
});
