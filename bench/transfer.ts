// The transfer step of pnpm bench: importing a real SQLite file of about 50 MB into a
// store (deserialize) and exporting it back to a file (serialize), every request paying
// the same fixed round trip, against moving the same bytes as plain object requests:
// the file cut into objects of the block size, uploaded and downloaded PLAIN_PARALLEL at
// a time, as a tool that copies objects would. Run at several block sizes (4 KiB pages),
// so that the default block size is chosen from these numbers (issue 13, item 3), and
// the import/export targets of issue 12 are checked against the plain transfer.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { withMetrics, type BlockStore, type StoreMetrics } from '@blockvfs/core';
import { forEachLimit } from '@blockvfs/core/store';
import { withLatency } from '@blockvfs/core/testing';
import { deserialize, serialize } from '@blockvfs/serialize';
import { timed } from './workloads.ts';

/** How many requests the plain transfer keeps in flight. */
export const PLAIN_PARALLEL = 64;

export interface TransferResult {
  blockSize: number;
  /** The SQLite file's size. */
  bytes: number;
  importSeconds: number;
  exportSeconds: number;
  plainUploadSeconds: number;
  plainDownloadSeconds: number;
  importRequests: Pick<StoreMetrics, 'get' | 'put' | 'list' | 'delete'>;
  exportRequests: Pick<StoreMetrics, 'get' | 'put' | 'list' | 'delete'>;
  /** Whether the exported file is byte for byte the imported one. */
  identical: boolean;
}

export interface TransferOptions {
  base: BlockStore;
  latency: number;
  blockSizes: number[];
  /** The SQLite file's approximate size (default 50 MB). */
  fileBytes?: number;
  onStep?: (step: string) => void;
}

const requests = (m: StoreMetrics) => ({ get: m.get, put: m.put, list: m.list, delete: m.delete });

export async function runTransfer(options: TransferOptions): Promise<TransferResult[]> {
  const folder = await mkdtemp(join(tmpdir(), 'blockvfs-transfer-'));
  try {
    const file = join(folder, 'source.sqlite');
    makeDatabase(file, options.fileBytes ?? 50_000_000);
    const bytes = (await stat(file)).size;
    const results: TransferResult[] = [];
    for (const blockSize of options.blockSizes) {
      const label = `transfer, ${blockSize / 1024} KiB blocks`;
      const name = `transfer-${blockSize}.db`;
      options.onStep?.(`${label}: import`);
      const importing = withMetrics(withLatency(options.base, options.latency));
      const importSeconds = await timed(() => importFile(importing, name, file, blockSize));
      options.onStep?.(`${label}: export`);
      const exporting = withMetrics(withLatency(options.base, options.latency));
      const exported = join(folder, `export-${blockSize}.sqlite`);
      const exportSeconds = await timed(() => exportFile(exporting, name, exported));
      options.onStep?.(`${label}: plain objects`);
      const plain = withLatency(options.base, options.latency);
      const { upload, download } = await plainTransfer(plain, file, `plain-${blockSize}/`, blockSize, bytes);
      results.push({
        blockSize,
        bytes,
        importSeconds,
        exportSeconds,
        plainUploadSeconds: upload,
        plainDownloadSeconds: download,
        importRequests: requests(importing.metrics),
        exportRequests: requests(exporting.metrics),
        identical: await sameFiles(file, exported),
      });
    }
    return results;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Imports the SQLite file at `file` into `store` as database `name`, in blocks of `blockSize` (deserialize from a file stream). */
export async function importFile(store: BlockStore, name: string, file: string, blockSize: number): Promise<void> {
  await deserialize({ store, name, source: createReadStream(file, { highWaterMark: 1 << 20 }), blockSize });
}

/** Exports database `name` of `store` to the file at `path` (serialize to a file stream). */
export async function exportFile(store: BlockStore, name: string, path: string): Promise<void> {
  const out = createWriteStream(path);
  for await (const chunk of serialize({ store, name })) if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  out.end();
  await finished(out);
}

/**
 * A SQLite file of about `size` bytes in 4 KiB pages, written by better-sqlite3: table
 * `t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)`, rows of random 1000-byte blobs. Returns the rows.
 */
export function makeDatabase(path: string, size: number): number {
  const db = new Database(path);
  db.pragma('page_size = 4096');
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (randomblob(1000))');
  const rows = Math.ceil(size / 1050);
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run();
  })();
  db.close();
  return rows;
}

/** The file cut into `objectSize` objects, put then got PLAIN_PARALLEL at a time. */
async function plainTransfer(store: BlockStore, file: string, prefix: string, objectSize: number, bytes: number) {
  const data = await readFile(file);
  const keys = Array.from({ length: Math.ceil(bytes / objectSize) }, (_, i) => i);
  const upload = await timed(() =>
    forEachLimit(keys, PLAIN_PARALLEL, async (i) => void (await store.put(`${prefix}${i}`, data.subarray(i * objectSize, (i + 1) * objectSize)))),
  );
  const download = await timed(() => forEachLimit(keys, PLAIN_PARALLEL, async (i) => void (await store.get(`${prefix}${i}`))));
  await store.delete(keys.map((i) => `${prefix}${i}`));
  return { upload, download };
}

export async function sameFiles(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  return x.equals(y);
}

export function transferMarkdown(results: TransferResult[], latency: number, store: string): string {
  const mb = (results[0]?.bytes ?? 0) / 1e6;
  const lines = [
    `### Transfer: a ${mb.toFixed(1)} MB SQLite file (4 KiB pages), ${store} store, ${latency} ms per request`,
    '',
    `Plain: the same bytes as objects of the block size, ${PLAIN_PARALLEL} requests in flight. Import is deserialize from the file, export is serialize to a file.`,
    '',
    '| block | import s | plain upload s | × | export s | plain download s | × | import PUT | export GET | identical |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.blockSize / 1024} KiB | ${r.importSeconds.toFixed(2)} | ${r.plainUploadSeconds.toFixed(2)} | ${(r.importSeconds / r.plainUploadSeconds).toFixed(2)} | ` +
        `${r.exportSeconds.toFixed(2)} | ${r.plainDownloadSeconds.toFixed(2)} | ${(r.exportSeconds / r.plainDownloadSeconds).toFixed(2)} | ${r.importRequests.put} | ${r.exportRequests.get} | ${r.identical ? 'yes' : 'NO'} |`,
    );
  }
  return lines.join('\n');
}
