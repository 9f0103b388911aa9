// The benchmark workloads a–e (issue 5), each step on a fresh connection of a fresh
// "process" (a new store object: no blocks cached from the step before) unless said.
import { randomBytes } from 'node:crypto';
import { forEachLimit } from '@blockvfs/core/store';
import { withLatency } from '@blockvfs/core/testing';
import { withMetrics, type BlockStore, type Layout, type StoreMetrics } from '@blockvfs/core';
import { deserialize, serialize } from '@blockvfs/serialize';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

export type StepResult = Pick<StoreMetrics, 'get' | 'put' | 'delete' | 'list' | 'bytesRead' | 'bytesWritten'> & {
  step: string;
  seconds: number;
  /** Step-specific figures (requests per commit, distinct blocks…). */
  notes: Record<string, number>;
};

export interface WorkloadOptions {
  /** The store, without latency or metrics. */
  base: BlockStore;
  layout: Layout;
  pageSize: number;
  blockSize: number;
  /** The round trip every request pays, ms. */
  latency: number;
  /** The steps to run, of a–e (default all); a always runs, as the others read its table, but is reported only if asked for. */
  steps?: ReadonlySet<string>;
  onStep?: (step: string) => void;
}

export const STEPS = ['a', 'b', 'c', 'd', 'e'] as const;

const ROWS = 10_000;
const SINGLE_COMMITS = 200;
const POINT_QUERIES = 1000;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomText(length: number): string {
  const bytes = randomBytes(length);
  let text = '';
  for (const byte of bytes) text += ALPHABET[byte % ALPHABET.length];
  return text;
}

/** A store object of its own over `base`, with latency, metrics and a log of the keys it read. */
export function processStore(base: BlockStore, latency: number) {
  const metered = withMetrics(withLatency(base, latency));
  const keysRead: string[] = [];
  const store: BlockStore = {
    name: metered.name,
    capabilities: metered.capabilities,
    get: (key, range) => {
      keysRead.push(key);
      return metered.get(key, range);
    },
    put: (key, data, condition) => metered.put(key, data, condition),
    delete: (keys) => metered.delete(keys),
    list: (prefix, options) => metered.list(prefix, options),
  };
  return { store, metered, keysRead };
}

/** Seconds that `run` takes. */
export async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

/** A step's result: its seconds and what `metered` counted. */
export function result(step: string, seconds: number, metered: ReturnType<typeof withMetrics>, notes: Record<string, number> = {}): StepResult {
  const { get, put, delete: del, list, bytesRead, bytesWritten } = metered.metrics;
  return { step, seconds, get, put, delete: del, list, bytesRead, bytesWritten, notes };
}

/** The store's own mean time (ms) to answer a GET of one of the objects under `prefix`, with no latency added. */
async function ownGetMs(base: BlockStore, prefix: string): Promise<number> {
  let key: string | undefined;
  for await (const entry of base.list(prefix)) {
    key = entry.key;
    break;
  }
  if (key === undefined) return 0;
  const times = 50;
  const started = performance.now();
  for (let i = 0; i < times; i++) await base.get(key);
  return (performance.now() - started) / times;
}

/** Steps a–e on one store, layout, page and block size. */
export async function runWorkloads(options: WorkloadOptions): Promise<StepResult[]> {
  const { base, layout, pageSize, blockSize, latency } = options;
  const name = `bench-${layout}-${pageSize}-${blockSize}.db`;
  const open = (store: BlockStore, extra: Record<string, unknown> = {}): Promise<Database> =>
    openDatabase({ store, name, layout, pageSize, blockSize, ...extra });
  const results: StepResult[] = [];
  const wanted = (step: (typeof STEPS)[number]): boolean => options.steps === undefined || options.steps.has(step);

  // a: create the table and insert 10,000 rows of 100 random characters in one transaction.
  options.onStep?.('a');
  {
    const { store, metered } = processStore(base, latency);
    const rows = Array.from({ length: ROWS }, () => randomText(100));
    let pages = 0;
    const seconds = await timed(async () => {
      const db = await open(store);
      await db.transaction(async () => {
        await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
        for (let id = 1; id <= ROWS; id++) await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, rows[id - 1] as string]);
      });
      pages = Number((await db.get('PRAGMA page_count'))?.page_count);
      await db.close();
    });
    if (wanted('a'))
      results.push(result('a: create and insert 10,000 rows, one transaction', seconds, metered, { pages, sequentialPutSeconds: (pages * latency) / 1000 }));
  }

  // b: 200 single-row inserts, each its own transaction (the connection opened first, not counted).
  if (wanted('b')) {
    options.onStep?.('b');
    const { store, metered } = processStore(base, latency);
    const db = await open(store);
    await db.get('SELECT count(*) FROM t');
    metered.resetMetrics();
    const seconds = await timed(async () => {
      for (let i = 0; i < SINGLE_COMMITS; i++) await db.run('INSERT INTO t (v) VALUES (?)', [randomText(100)]);
    });
    const r = result('b: 200 single-row commits', seconds, metered);
    r.notes = {
      requestsPerCommit: (r.get + r.put + r.delete + r.list) / SINGLE_COMMITS,
      roundTripsPerCommit: (seconds * 1000) / SINGLE_COMMITS / latency,
    };
    results.push(r);
    await db.close();
  }

  // c: 1,000 point selects by random id on a cold connection (and a cold process: nothing cached).
  if (wanted('c')) await stepC();
  async function stepC(): Promise<void> {
    options.onStep?.('c');
    const ids = Array.from({ length: POINT_QUERIES }, () => 1 + Math.floor(Math.random() * ROWS));
    const pointQueries = async (db: Database): Promise<void> => {
      for (const id of ids) await db.get('SELECT v FROM t WHERE id = ?', [id]);
    };
    const c = processStore(base, latency);
    // A round trip is the added latency plus the store's own time to answer (Ceph's gateway here takes a few ms).
    const storeGetMs = await ownGetMs(base, `${name}/`);
    {
      const db = await open(c.store);
      c.metered.resetMetrics();
      c.keysRead.length = 0;
      const seconds = await timed(() => pointQueries(db));
      const blockGets = c.keysRead.filter((key) => isBlockKey(name, key));
      results.push(
        result('c: 1,000 cold point queries', seconds, c.metered, {
          blockGets: blockGets.length,
          distinctBlocks: new Set(blockGets).size,
          otherGets: c.keysRead.length - blockGets.length,
          storeGetMs,
          roundTripsPerQuery: (seconds * 1000) / POINT_QUERIES / (latency + storeGetMs),
        }),
      );
      await db.close();
    }
    // c, again in the same process: the block cache warm; reads may be a minute stale (freshness).
    if (layout === 'atomic') {
      const db = await open(c.store, { freshnessMs: 60_000 });
      c.metered.resetMetrics();
      const seconds = await timed(() => pointQueries(db));
      results.push(result('c: the same, block cache warm, freshness 60 s', seconds, c.metered));
      await db.close();
    }
  }

  // d: a full scan, cold; compared with fetching the same objects with parallel GETs.
  if (wanted('d')) {
    options.onStep?.('d');
    const { store, metered, keysRead } = processStore(base, latency);
    const db = await open(store);
    metered.resetMetrics();
    keysRead.length = 0;
    const seconds = await timed(() => db.get('SELECT count(*), sum(length(v)) FROM t'));
    const scanned = keysRead.filter((key) => isBlockKey(name, key));
    await db.close();
    const reference = processStore(base, latency);
    const parallelSeconds = await timed(() => forEachLimit(scanned, 16, async (key) => void (await reference.store.get(key))));
    results.push(result('d: full scan (count, sum(length))', seconds, metered, { blocks: scanned.length, parallelDownloadSeconds: parallelSeconds }));
  }

  // e: serialize to bytes, then deserialize into a new name.
  if (wanted('e')) {
    options.onStep?.('e');
    const { store, metered } = processStore(base, latency);
    let bytes = 0;
    const seconds = await timed(async () => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of serialize({ store, name, layout })) chunks.push(chunk);
      bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      await deserialize({ store, name: `${name}.copy`, source: chunks, layout, blockSize });
    });
    results.push(result('e: serialize, then deserialize into a new name', seconds, metered, { bytes }));
  }
  return results;
}

/** Whether `key` is a block object of database `name` (atomic `name/blocks/…`, direct `name/<10 digits>`). */
export function isBlockKey(name: string, key: string): boolean {
  return key.startsWith(`${name}/blocks/`) || /^\d{10}$/.test(key.slice(name.length + 1));
}
