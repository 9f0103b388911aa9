// The block-size step of pnpm bench (issue 13, item 3): the same work at several block
// sizes with 4 KiB pages, every request paying the same fixed round trip, so that the
// default block size for new databases is chosen from requests, bytes and time:
//
// - workloads a–e (workloads.ts), on a 1 MB table;
// - importing a SQLite file of about 50 MB into the store and exporting it back to a
//   file (transfer.ts's importFile and exportFile);
// - a cold full scan of that 50 MB database (a new store object: nothing cached);
// - point queries, single-row updates and three-row transactions by random id on that
//   database, each on a new store object: step c's table is 1 MB, which 64 KiB blocks hold
//   in 16 objects, so c soon reads from the cache; on 50 MB nearly every query needs
//   blocks of its own, and an update rewrites whole blocks (b's appends rewrite the short
//   last block). A commit whose blocks total at most the inline limit (128 KiB) is one
//   PUT; three rows and the header are four blocks.
//
// Each store gets a store of its own for this step (the workloads' database names carry
// the page and block size, which the main workloads use too).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withMetrics, type BlockStore } from '@blockvfs/core';
import { withLatency } from '@blockvfs/core/testing';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { exportFile, importFile, makeDatabase, sameFiles } from './transfer.ts';
import { isBlockKey, processStore, result, runWorkloads, timed, type StepResult } from './workloads.ts';

export const PAGE_SIZE = 4096;
/** Point queries and single-row updates on the 50 MB database. */
const POINT_QUERIES = 100;
const UPDATES = 50;

export interface BlockSizeResult {
  blockSize: number;
  /** Workloads a–e, then `import`, `export`, `scan`, `point`, `update` and `update3` (the 50 MB database). */
  steps: StepResult[];
}

export interface BlockSizeOptions {
  /** The store, without latency or metrics; each block size's databases have names of their own. */
  base: BlockStore;
  latency: number;
  blockSizes: number[];
  /** The SQLite file's approximate size (default 50 MB). */
  fileBytes?: number;
  onStep?: (step: string) => void;
}

export async function runBlockSizes(options: BlockSizeOptions): Promise<BlockSizeResult[]> {
  const { base, latency } = options;
  const folder = await mkdtemp(join(tmpdir(), 'blockvfs-block-size-'));
  try {
    const file = join(folder, 'source.sqlite');
    const rows = makeDatabase(file, options.fileBytes ?? 50_000_000);
    const bytes = (await stat(file)).size;
    const results: BlockSizeResult[] = [];
    for (const blockSize of options.blockSizes) {
      const label = `block size ${blockSize / 1024} KiB`;
      const steps = await runWorkloads({
        base,
        layout: 'atomic',
        pageSize: PAGE_SIZE,
        blockSize,
        latency,
        onStep: (step) => options.onStep?.(`${label}: step ${step}`),
      });
      const name = `block-size-${blockSize}.db`;

      options.onStep?.(`${label}: import`);
      const importing = withMetrics(withLatency(base, latency));
      steps.push(result('import', await timed(() => importFile(importing, name, file, blockSize)), importing, { bytes }));

      options.onStep?.(`${label}: export`);
      const exporting = withMetrics(withLatency(base, latency));
      const exported = join(folder, `export-${blockSize}.sqlite`);
      const exportSeconds = await timed(() => exportFile(exporting, name, exported));
      const identical = await sameFiles(file, exported);
      await rm(exported);
      if (!identical) throw new Error(`${label}: the exported file differs from the imported one`);
      steps.push(result('export', exportSeconds, exporting, { bytes }));

      // The cold full scan: a new store object (no block cached), the open not counted (as step d).
      options.onStep?.(`${label}: cold full scan`);
      const scanning = withMetrics(withLatency(base, latency));
      const db = await openDatabase({ store: scanning, name });
      scanning.resetMetrics();
      let counted = 0;
      const scanSeconds = await timed(async () => {
        counted = Number((await db.get('SELECT count(*) AS n, sum(length(body)) AS total FROM t'))?.n);
      });
      await db.close();
      if (counted !== rows) throw new Error(`${label}: the scan counted ${counted} rows of ${rows}`);
      steps.push(result('scan', scanSeconds, scanning, { bytes, rows }));

      // Point queries by random id, then single-row updates by random id, each on a new store object.
      const randomIds = (count: number) => Array.from({ length: count }, () => 1 + Math.floor(Math.random() * rows));
      options.onStep?.(`${label}: point queries`);
      {
        const { store, metered, keysRead } = processStore(base, latency);
        const ids = randomIds(POINT_QUERIES);
        const db = await openDatabase({ store, name });
        metered.resetMetrics();
        keysRead.length = 0;
        const seconds = await timed(async () => {
          for (const id of ids) await db.get('SELECT length(body) AS n FROM t WHERE id = ?', [id]);
        });
        await db.close();
        const blockGets = keysRead.filter((key) => isBlockKey(name, key)).length;
        steps.push(result('point', seconds, metered, { queries: POINT_QUERIES, blockGets }));
      }
      options.onStep?.(`${label}: single-row updates`);
      {
        const { store, metered } = processStore(base, latency);
        const ids = randomIds(UPDATES);
        const db = await openDatabase({ store, name });
        metered.resetMetrics();
        const seconds = await timed(async () => {
          for (const id of ids) await db.run('UPDATE t SET body = randomblob(1000) WHERE id = ?', [id]);
        });
        await db.close();
        steps.push(result('update', seconds, metered, { commits: UPDATES }));
      }
      options.onStep?.(`${label}: three-row transactions`);
      {
        const { store, metered } = processStore(base, latency);
        const sets = Array.from({ length: UPDATES }, () => randomIds(3));
        const db = await openDatabase({ store, name });
        metered.resetMetrics();
        const seconds = await timed(async () => {
          for (const ids of sets)
            await db.transaction(async () => {
              for (const id of ids) await db.run('UPDATE t SET body = randomblob(1000) WHERE id = ?', [id]);
            });
        });
        await db.close();
        steps.push(result('update3', seconds, metered, { commits: UPDATES }));
      }
      results.push({ blockSize, steps });
    }
    return results;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

const kib = (bytes: number): string =>
  bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const requests = (s: StepResult): number => s.get + s.put + s.delete + s.list;

/** One cell: seconds, store requests (by kind), bytes read and written. */
function cell(s: StepResult): string {
  const kinds = (
    [
      [s.get, 'GET'],
      [s.put, 'PUT'],
      [s.delete, 'DELETE'],
      [s.list, 'LIST'],
    ] as const
  )
    .filter(([count]) => count !== 0)
    .map(([count, kind]) => `${count} ${kind}`);
  const sent = kinds.length === 0 ? 'no requests' : kinds.length === 1 ? kinds[0] : `${requests(s)} requests (${kinds.join(' + ')})`;
  const moved = [s.bytesRead ? `${kib(s.bytesRead)} read` : '', s.bytesWritten ? `${kib(s.bytesWritten)} written` : ''].filter(Boolean).join(', ');
  return `${s.seconds.toFixed(2)} s · ${sent} · ${moved || 'no bytes'}`;
}

/** The step's figures, at one block size, for each row of the table (undefined: the step did not run). */
const ROWS: { label: (r: BlockSizeResult[]) => string; value: (steps: StepResult[]) => string | undefined }[] = [
  { label: () => 'a: create, insert 10,000 rows in one transaction', value: (steps) => at(steps, 'a:', cell) },
  { label: () => 'b: 200 single-row commits', value: (steps) => at(steps, 'b:', cell) },
  { label: () => 'b, one commit (mean)', value: (steps) => at(steps, 'b:', (s) => perCommit(s, 200)) },
  { label: () => 'c: 1,000 cold point queries', value: (steps) => at(steps, 'c: 1,000', cell) },
  {
    label: () => 'c, block GETs (distinct blocks)',
    value: (steps) => at(steps, 'c: 1,000', (s) => `${s.notes.blockGets} (${s.notes.distinctBlocks}), ${kib(s.bytesRead / 1000)} read per query`),
  },
  { label: () => 'd: full scan, 1 MB table', value: (steps) => at(steps, 'd:', cell) },
  { label: () => 'e: serialize + deserialize, 1 MB', value: (steps) => at(steps, 'e:', cell) },
  { label: (r) => `import, ${mb(r)} MB file`, value: (steps) => at(steps, 'import', cell) },
  { label: (r) => `export, ${mb(r)} MB file`, value: (steps) => at(steps, 'export', cell) },
  { label: (r) => `cold full scan, ${mb(r)} MB database`, value: (steps) => at(steps, 'scan', cell) },
  { label: (r) => `${POINT_QUERIES} point queries by random id, ${mb(r)} MB database, cold`, value: (steps) => at(steps, 'point', cell) },
  {
    label: () => 'one point query (mean): block GETs, read',
    value: (steps) =>
      at(
        steps,
        'point',
        (s) =>
          `${((s.seconds * 1000) / POINT_QUERIES).toFixed(0)} ms · ${((s.notes.blockGets ?? 0) / POINT_QUERIES).toFixed(2)} block GET · ${kib(s.bytesRead / POINT_QUERIES)} read`,
      ),
  },
  { label: (r) => `${UPDATES} single-row updates by random id, ${mb(r)} MB database`, value: (steps) => at(steps, 'update', cell) },
  { label: () => 'one update commit (mean)', value: (steps) => at(steps, 'update', (s) => perCommit(s, UPDATES)) },
  { label: (r) => `${UPDATES} transactions updating 3 random rows, ${mb(r)} MB database`, value: (steps) => at(steps, 'update3', cell) },
  { label: () => 'one three-row commit (mean)', value: (steps) => at(steps, 'update3', (s) => perCommit(s, UPDATES)) },
];

function perCommit(s: StepResult, commits: number): string {
  return `${((s.seconds * 1000) / commits).toFixed(0)} ms · ${(requests(s) / commits).toFixed(2)} req (${(s.put / commits).toFixed(2)} PUT) · ${kib(s.bytesWritten / commits)} written${s.bytesRead ? `, ${kib(s.bytesRead / commits)} read` : ''}`;
}

/** The step named `prefix` (import, update…), or the workload step whose name starts with it (a:, c: 1,000…). */
function at(steps: StepResult[], prefix: string, show: (s: StepResult) => string): string | undefined {
  const step = steps.find((s) => s.step === prefix) ?? steps.find((s) => s.step.startsWith(prefix));
  return step && show(step);
}

function mb(results: BlockSizeResult[]): string {
  const bytes = results[0]?.steps.find((s) => s.step === 'import')?.notes.bytes ?? 0;
  return (bytes / 1e6).toFixed(1);
}

export function blockSizeMarkdown(results: BlockSizeResult[], latency: number, store: string): string {
  const lines = [
    `### Block size: ${store} store, atomic layout, ${PAGE_SIZE / 1024} KiB pages, ${latency} ms per request`,
    '',
    'Each cell: wall seconds · store requests · bytes read and written. Steps a–e as above (a 1 MB table of 10,000 rows);',
    `import and export move a ${mb(results)} MB SQLite file (rows of 1000-byte blobs) into the store and back (the export is byte for byte the file);`,
    'the cold full scan is `SELECT count(*), sum(length(body))` over that database on a new store object (nothing cached; the open not counted);',
    `then ${POINT_QUERIES} point queries by random id, ${UPDATES} single-row updates by random id (\`UPDATE t SET body = randomblob(1000) WHERE id = ?\`, each its own commit)`,
    `and ${UPDATES} transactions of 3 such updates, each on a new store object. Per commit or query, a GET looks for other writers' commits; the others read blocks.`,
    'A commit whose blocks total at most 128 KiB (the inline limit) carries them in its record: one PUT; every 100 commits a checkpoint writes the blocks',
    'that commits carried inline as objects of their own (counted in the updates when it fell in them).',
    '',
    `| step | ${results.map((r) => `${r.blockSize / 1024} KiB blocks`).join(' | ')} |`,
    `|---|${results.map(() => '---|').join('')}`,
  ];
  for (const row of ROWS) {
    const values = results.map((r) => row.value(r.steps));
    if (values.every((value) => value === undefined)) continue;
    lines.push(`| ${row.label(results)} | ${values.map((value) => value ?? '').join(' | ')} |`);
  }
  return lines.join('\n');
}
