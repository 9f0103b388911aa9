// The scale step of pnpm bench (issue 13, item 4): databases of 10 MB, 200 MB and 2 GB
// on the fs store, every request paying the same round trip; the requests and bytes of
// an open, a single-row commit and a checkpoint, and the time of a garbage collection,
// after 0 and after 10,000 random single-row updates. What a commit or an open costs
// must not grow with the database: the table (scale-report.ts) shows whether it does.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGarbage, DEFAULT_BLOCK_SIZE, DEFAULT_GRACE_MS, withMetrics, type BlockStore, type MeteredStore } from '@blockvfs/core';
import { withLatency } from '@blockvfs/core/testing';
import { FsStore } from '@blockvfs/store-fs';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import { importSqliteFile, ROW_TEXT_LENGTH, storeFolder, writeSqliteFile } from './scale-setup.ts';

export { scaleMarkdown } from './scale-report.ts';

export const SCALE_SIZES_MB = [10, 200, 2000];
export const SCALE_UPDATES = 10_000;
/** Commits made before the measured checkpoint, so that it has inline blocks to fold, as one after a burst of commits would. */
export const COMMITS_BEFORE_CHECKPOINT = 10;
const NAME = 'scale.db';

/** The largest object one step read or wrote: what explains a figure that grows. */
export interface LargestObject {
  /** The key below the database's name, numbers unpadded (`log/1`, `checkpoint/10012`). */
  key: string;
  bytes: number;
}

export interface Measured {
  seconds: number;
  get: number;
  put: number;
  list: number;
  delete: number;
  bytesRead: number;
  bytesWritten: number;
  largestGet: LargestObject | undefined;
  largestPut: LargestObject | undefined;
  /** GETs of block objects: the pages SQLite read that no cache held (a cold B-tree path is one per level below what is cached). */
  blockGets: number;
  /** GETs of checkpoint segments: the block map's parts, each loaded the first time a block in it is read. */
  segmentGets: number;
}

export interface StateResult {
  /** Random single-row updates made before this state was measured (0 or SCALE_UPDATES). */
  updates: number;
  /** Opening the database on a fresh store object (nothing cached). */
  open: Measured;
  /** One UPDATE of a random row, its own transaction, on the connection just opened. */
  commit: Measured;
  /** db.checkpoint() on that connection after COMMITS_BEFORE_CHECKPOINT more commits. */
  checkpoint: Measured;
  /** collectGarbage on a fresh store object, keeping only the newest commit. */
  gc: Measured & { deletedObjects: number };
}

export interface UpdateRun extends Measured {
  commits: number;
  /** Commit times, no latency: the median, and the slowest (one that wrote an automatic checkpoint, when those cost). */
  medianCommitMs: number;
  slowestCommitMs: number;
}

export interface ScaleSizeResult {
  /** The size asked for, in MB (10^6 bytes). */
  megabytes: number;
  fileBytes: number;
  rows: number;
  blockSize: number;
  blocks: number;
  states: StateResult[];
  /** The updates between the two states, on the store without latency: counted, timed only for the record. */
  updateRun: UpdateRun;
  /** Writing the SQLite file and importing it (not measured). */
  setupSeconds: number;
  /** Everything for this size, setup included. */
  seconds: number;
}

export interface ScaleResults {
  latency: number;
  /** Where the stores' folders were (tmpfs or a disk: it changes the GC's seconds, not the requests). */
  folder: string;
  updates: number;
  commitsBeforeCheckpoint: number;
  sizes: ScaleSizeResult[];
}

export interface ScaleOptions {
  /** The round trip every measured request pays, ms. */
  latency: number;
  /** Database sizes, MB (default SCALE_SIZES_MB). */
  sizesMb?: number[];
  /** Random single-row updates between the two states (default SCALE_UPDATES). */
  updates?: number;
  /** Where each size's store folder is made (default storeFolder: tmpfs when it has room). */
  folder?: string;
  onStep?: (step: string) => void;
}

export async function runScale(options: ScaleOptions): Promise<ScaleResults> {
  const sizesMb = options.sizesMb ?? SCALE_SIZES_MB;
  const folder = options.folder ?? (await storeFolder(Math.max(...sizesMb) * 1e6));
  const updates = options.updates ?? SCALE_UPDATES;
  const sizes: ScaleSizeResult[] = [];
  for (const megabytes of sizesMb) sizes.push(await runSize(megabytes, folder, updates, options));
  return { latency: options.latency, folder, updates, commitsBeforeCheckpoint: COMMITS_BEFORE_CHECKPOINT, sizes };
}

/**
 * One database size: its store in a folder of its own under `parent`, and the SQLite file
 * in the temp folder, both removed afterwards (2 GB sizes must not pile up).
 */
async function runSize(megabytes: number, parent: string, updates: number, options: ScaleOptions): Promise<ScaleSizeResult> {
  const started = performance.now();
  const step = (what: string) => options.onStep?.(`scale, ${megabytes} MB: ${what}`);
  const folder = await mkdtemp(join(parent, 'blockvfs-scale-'));
  const fileFolder = await mkdtemp(join(tmpdir(), 'blockvfs-scale-file-'));
  try {
    const base = new FsStore({ root: folder });
    step('writing the SQLite file');
    const file = join(fileFolder, 'source.sqlite');
    const { bytes: fileBytes, rows } = await writeSqliteFile(file, megabytes * 1e6);
    step('importing it');
    await importSqliteFile(base, NAME, file);
    await rm(file); // the store holds it now
    const setupSeconds = (performance.now() - started) / 1000;
    const randomRow = () => 1 + Math.floor(Math.random() * rows);

    step('after 0 updates');
    const states = [await measureState(base, options.latency, randomRow, 0)];
    step(`${updates} random single-row updates (no latency)`);
    const updateRun = await updateRows(base, randomRow, updates);
    step(`after ${updates} updates`);
    states.push(await measureState(base, options.latency, randomRow, updates));
    return {
      megabytes,
      fileBytes,
      rows,
      blockSize: DEFAULT_BLOCK_SIZE,
      blocks: Math.ceil(fileBytes / DEFAULT_BLOCK_SIZE),
      states,
      updateRun,
      setupSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
    await rm(fileFolder, { recursive: true, force: true });
  }
}

/** Open, commit, checkpoint and collect, each counted; the database is left with only its newest commit. */
async function measureState(base: BlockStore, latency: number, randomRow: () => number, updates: number): Promise<StateResult> {
  const connection = meteredStore(base, latency);
  let db: Database | undefined;
  const open = await measure(connection, async () => {
    db = await openDatabase({ store: connection.store, name: NAME });
  });
  if (!db) throw new Error('openDatabase returned nothing');
  const opened = db;
  try {
    const commit = await measure(connection, () => updateRow(opened, randomRow()));
    for (let i = 1; i < COMMITS_BEFORE_CHECKPOINT; i++) await updateRow(opened, randomRow());
    const checkpoint = await measure(connection, () => opened.checkpoint());
    await opened.close();
    // A fresh store object, as a collector in its own process would have. Retention 0 and its
    // clock past the grace period: everything no longer in the newest commit goes, so the
    // collection does its full work (the default day of retention would keep all of it).
    const collector = meteredStore(base, latency);
    let deletedObjects = 0;
    const gc = await measure(collector, async () => {
      const report = await collectGarbage({ store: collector.store, name: NAME, retentionMs: 0, now: Date.now() + DEFAULT_GRACE_MS + 1000 });
      deletedObjects = report.deleted.blocks + report.deleted.records + report.deleted.checkpoints;
    });
    return { updates, open, commit, checkpoint, gc: { ...gc, deletedObjects } };
  } finally {
    if (!opened.closed) await opened.close();
  }
}

/**
 * `count` UPDATEs of random rows, each its own commit, with the writer lease held (so each
 * is one PUT) and no background collection (the GC row measures collection). Automatic
 * checkpoints (every 100 commits) stay on: their cost is part of what a commit costs.
 */
async function updateRows(base: BlockStore, randomRow: () => number, count: number): Promise<UpdateRun> {
  const counted = meteredStore(base, 0);
  const db = await openDatabase({ store: counted.store, name: NAME, lease: true, retentionMs: false });
  try {
    const update = await db.prepare('UPDATE t SET v = ? WHERE id = ?');
    const times: number[] = [];
    const run = await measure(counted, async () => {
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        await update.run([newText(), randomRow()]);
        times.push(performance.now() - started);
      }
    });
    await update.finalize();
    times.sort((a, b) => a - b);
    return { ...run, commits: count, medianCommitMs: times[Math.floor(times.length / 2)] ?? 0, slowestCommitMs: times[times.length - 1] ?? 0 };
  } finally {
    await db.close();
  }
}

async function updateRow(db: Database, id: number): Promise<void> {
  await db.run('UPDATE t SET v = ? WHERE id = ?', [newText(), id]);
}

/** A new value of the same length as the old: the row stays on its page, as most updates do. */
function newText(): string {
  return randomBytes(ROW_TEXT_LENGTH / 2).toString('hex');
}

interface CountingStore {
  store: BlockStore;
  metered: MeteredStore;
  largest: { get: LargestObject | undefined; put: LargestObject | undefined };
  /** GETs by what they fetched (see Measured). */
  gets: { blocks: number; segments: number };
}

/** A store object of its own over `base` (nothing cached), with latency, counters, and the largest object read and written. */
function meteredStore(base: BlockStore, latency: number): CountingStore {
  const metered = withMetrics(latency > 0 ? withLatency(base, latency) : base);
  const largest: CountingStore['largest'] = { get: undefined, put: undefined };
  const gets: CountingStore['gets'] = { blocks: 0, segments: 0 };
  const note = (kind: 'get' | 'put', key: string, bytes: number) => {
    if (bytes > (largest[kind]?.bytes ?? -1)) largest[kind] = { key: shortKey(key), bytes };
  };
  const store: BlockStore = {
    name: metered.name,
    capabilities: metered.capabilities,
    get: async (key, range) => {
      const data = await metered.get(key, range);
      note('get', key, data?.length ?? 0);
      if (BLOCK_KEY.test(key)) gets.blocks += 1;
      else if (SEGMENT_KEY.test(key)) gets.segments += 1;
      return data;
    },
    put: (key, data, condition) => {
      note('put', key, data.length);
      return metered.put(key, data, condition);
    },
    delete: (keys) => metered.delete(keys),
    list: (prefix, listOptions) => metered.list(prefix, listOptions),
  };
  return { store, metered, largest, gets };
}

/** Keys of block objects and of checkpoint segments (docs/atomic-format.md §1, §5). */
const BLOCK_KEY = /\/blocks\/\d+\.\d+\.[0-9a-f]+$/;
const SEGMENT_KEY = /\/checkpoint\/\d+\.\d+\.\d+$/;

/** `scale.db/log/000000000012` → `log/12`; a block object → `block 7 of commit 12`. */
function shortKey(key: string): string {
  const rest = key.slice(NAME.length + 1);
  const block = /^blocks\/(\d+)\.(\d+)\./.exec(rest);
  if (block) return `block ${Number(block[1])} of commit ${Number(block[2])}`;
  return rest.replace(/\/(\d+)$/, (_, digits: string) => `/${Number(digits)}`);
}

async function measure(counting: CountingStore, run: () => Promise<unknown>): Promise<Measured> {
  counting.metered.resetMetrics();
  counting.largest.get = undefined;
  counting.largest.put = undefined;
  counting.gets.blocks = 0;
  counting.gets.segments = 0;
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const { get, put, list, delete: del, bytesRead, bytesWritten } = counting.metered.metrics;
  return {
    seconds,
    get,
    put,
    list,
    delete: del,
    bytesRead,
    bytesWritten,
    largestGet: counting.largest.get,
    largestPut: counting.largest.put,
    blockGets: counting.gets.blocks,
    segmentGets: counting.gets.segments,
  };
}
