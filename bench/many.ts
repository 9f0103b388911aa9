// The many-databases step (issue 10): one process, many databases at once.
//
// - scale: 1, 4, 16 and 64 databases on one store (every request paying the same round
//   trip), each running single-row commits with its writer lease held, then, separately
//   and cold, point reads; commits/s and reads/s in total.
// - memory: RSS of a fresh process with 64 open idle databases (many-memory.ts).
// - stall: the time of queries on healthy databases while another database's requests hang
//   (a GCS endpoint that accepts connections and never answers), against the same queries
//   without it; and how the stalled query ends (by its request timeout).
// - counter: two processes (counter-writer.ts) × 300 read-modify-write increments of one
//   row with the default busyTimeout; every increment must land exactly once.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { withLatency } from '@blockvfs/core/testing';
import { withMetrics, type BlockStore } from '@blockvfs/core';
import { MemoryStore } from '@blockvfs/store-memory';
import { GcsStore } from '@blockvfs/store-gcs';
import { StallingServer, startGcsTestServer } from '@blockvfs/test-servers';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

const run = promisify(execFile);

export const SCALES = [1, 4, 16, 64] as const;
/** How long each scale's commits, and then its reads, run. */
const PHASE_SECONDS = 4;
const ROWS = 1000;
const STALL_HEALTHY = 16;
const STALL_QUERIES = 40;
/** The stalled store's request timeout and retries (the default, 30 s and 5 retries, would take three minutes). */
const STALL_TIMEOUT_MS = 2000;
const STALL_RETRIES = 1;
const INCREMENTS = 300;

export interface ScaleResult {
  databases: number;
  commits: number;
  commitsPerSecond: number;
  reads: number;
  readsPerSecond: number;
  /** Requests per commit, over all databases. */
  requestsPerCommit: number;
}

export interface MemoryResult {
  databases: number;
  baselineMiB: number;
  openMiB: number;
  perDatabaseMiB: number;
}

export interface StallResult {
  healthyDatabases: number;
  queriesEach: number;
  /** Mean time of one healthy query, without and with the stall, ms. */
  withoutMs: number;
  withMs: number;
  /** The longest healthy query during the stall, ms. */
  worstWithMs: number;
  /** Whether the stalled query was still waiting when the healthy queries ended. */
  stallCovered: boolean;
  stalledFailedAfterSeconds: number;
  stalledError: string;
}

export interface CounterResult {
  processes: number;
  incrementsEach: number;
  counter: number;
  attempts: number;
  busyThrown: number;
  seconds: number;
}

export interface ManyResult {
  latency: number;
  scale: ScaleResult[];
  memory: MemoryResult;
  stall: StallResult;
  counter: CounterResult;
}

/** Runs every part of the step; `progress` hears what runs. */
export async function runMany(latency: number, progress: (what: string) => void): Promise<ManyResult> {
  const scale: ScaleResult[] = [];
  for (const databases of SCALES) {
    progress(`many: ${databases} database(s)`);
    scale.push(await runScale(databases, latency));
  }
  progress('many: RSS of 64 idle databases (a fresh process)');
  const memory = await runMemory(64);
  progress('many: a stalled database beside healthy ones');
  const stall = await runStall(latency);
  progress('many: two processes racing increments');
  const counter = await runCounter(latency);
  return { latency, scale, memory, stall, counter };
}

const names = (count: number): string[] => Array.from({ length: count }, (_, i) => `tenant-${i}.db`);

/** Runs `work` on every database until the deadline; returns how many times it ran in all. */
async function untilDeadline(dbs: Database[], seconds: number, work: (db: Database) => Promise<unknown>): Promise<{ count: number; seconds: number }> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let count = 0;
  await Promise.all(
    dbs.map(async (db) => {
      while (performance.now() < deadline) {
        await work(db);
        count += 1;
      }
    }),
  );
  return { count, seconds: (performance.now() - started) / 1000 };
}

async function runScale(databases: number, latency: number): Promise<ScaleResult> {
  const base = new MemoryStore();
  // Commits: each database holds its writer lease, so a commit is its blocks and its record.
  const writing = withMetrics(withLatency(base, latency));
  const writers = await Promise.all(names(databases).map((name) => openDatabase({ store: writing, name, lease: true })));
  await Promise.all(
    writers.map((db) =>
      db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS}) INSERT INTO t (v) SELECT printf('%0100d', i) FROM n`),
    ),
  );
  writing.resetMetrics();
  const commits = await untilDeadline(writers, PHASE_SECONDS, (db) => db.run('INSERT INTO t (v) VALUES (?)', ['x'.repeat(100)]));
  const { get, put, delete: del, list } = writing.metrics;
  await Promise.all(writers.map((db) => db.close()));

  // Cold point reads: a new store object (a new "process": no block cached), default settings.
  const reading = withLatency(base, latency);
  const readers = await Promise.all(names(databases).map((name) => openDatabase({ store: reading, name })));
  const reads = await untilDeadline(readers, PHASE_SECONDS, (db) => db.get('SELECT v FROM t WHERE id = ?', [1 + Math.floor(Math.random() * ROWS)]));
  await Promise.all(readers.map((db) => db.close()));
  return {
    databases,
    commits: commits.count,
    commitsPerSecond: commits.count / commits.seconds,
    reads: reads.count,
    readsPerSecond: reads.count / reads.seconds,
    requestsPerCommit: (get + put + del + list) / commits.count,
  };
}

async function runMemory(databases: number): Promise<MemoryResult> {
  const { stdout } = await run(process.execPath, ['--expose-gc', new URL('./many-memory.ts', import.meta.url).pathname, String(databases)]);
  return JSON.parse(stdout) as MemoryResult;
}

async function runStall(latency: number): Promise<StallResult> {
  const base = new MemoryStore();
  const setup = withLatency(base, latency);
  const healthy = await Promise.all(names(STALL_HEALTHY).map((name) => openDatabase({ store: setup, name })));
  await Promise.all(healthy.map((db) => db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('${'x'.repeat(100)}')`)));
  const queries = async (): Promise<{ mean: number; worst: number }> => {
    const times: number[] = [];
    await Promise.all(
      healthy.map(async (db) => {
        for (let i = 0; i < STALL_QUERIES; i++) {
          const started = performance.now();
          await db.get('SELECT v FROM t WHERE id = 1');
          times.push(performance.now() - started);
        }
      }),
    );
    return { mean: times.reduce((sum, t) => sum + t, 0) / times.length, worst: Math.max(...times) };
  };
  await queries(); // warm
  const without = await queries();

  // The stalled database: on GcsStore (the real SDK) through a proxy to a local GCS server,
  // opened while the proxy forwards, then every request it makes is left hanging.
  const gcs = await startGcsTestServer({ buckets: ['stalled'] });
  const server = await StallingServer.start({ upstream: gcs.apiEndpoint });
  server.rule = () => 'forward';
  try {
    const storage = new Storage({ apiEndpoint: server.endpoint, projectId: gcs.projectId, retryOptions: { autoRetry: false } });
    const stalledStore: BlockStore = new GcsStore({ bucket: storage.bucket('stalled'), requestTimeoutMs: STALL_TIMEOUT_MS, retry: { retries: STALL_RETRIES } });
    const victim = await openDatabase({ store: stalledStore, name: 'stalled.db' });
    await victim.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('${'x'.repeat(100)}')`);
    server.rule = () => 'silent';
    const stallStarted = performance.now();
    let stallEnded = false;
    const stalled = victim.get('SELECT v FROM t WHERE id = 1').then(
      () => 'answered (it should not have)',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    void stalled.finally(() => (stallEnded = true));
    await new Promise((resolve) => setTimeout(resolve, 100)); // its first request is out
    const during = await queries();
    const stallCovered = !stallEnded;
    const stalledError = await stalled;
    const stalledFailedAfterSeconds = (performance.now() - stallStarted) / 1000;
    await victim.close().catch(() => undefined);
    return {
      healthyDatabases: STALL_HEALTHY,
      queriesEach: STALL_QUERIES,
      withoutMs: without.mean,
      withMs: during.mean,
      worstWithMs: during.worst,
      stallCovered,
      stalledFailedAfterSeconds,
      stalledError,
    };
  } finally {
    await Promise.all(healthy.map((db) => db.close()));
    await server.close();
    await gcs.stop();
  }
}

async function runCounter(latency: number): Promise<CounterResult> {
  const root = await mkdtemp(join(tmpdir(), 'blockvfs-bench-counter-'));
  try {
    const writer = new URL('./counter-writer.ts', import.meta.url).pathname;
    await run(process.execPath, [writer, 'setup', root, String(latency)]);
    const started = performance.now();
    const outputs = await Promise.all([0, 1].map(() => run(process.execPath, [writer, 'increment', root, String(latency), String(INCREMENTS)])));
    const seconds = (performance.now() - started) / 1000;
    const results = outputs.map(({ stdout }) => JSON.parse(stdout) as { attempts: number; busyThrown: number });
    const { stdout } = await run(process.execPath, [writer, 'read', root, String(latency)]);
    return {
      processes: 2,
      incrementsEach: INCREMENTS,
      counter: (JSON.parse(stdout) as { n: number }).n,
      attempts: results.reduce((sum, r) => sum + r.attempts, 0),
      busyThrown: results.reduce((sum, r) => sum + r.busyThrown, 0),
      seconds,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The step's tables and the targets, in Markdown. */
export function manyMarkdown(result: ManyResult): string {
  const one = result.scale.find((s) => s.databases === 1);
  const lines = [
    `### Many databases in one process: memory store, ${result.latency} ms per request`,
    '',
    `Each database runs, for ${PHASE_SECONDS} s, single-row commits with its writer lease held, then (a new store object, nothing cached, default settings) point reads by random id; every database has ${ROWS} rows of 100 bytes.`,
    '',
    '| databases | commits/s in total | × one database | requests per commit | cold point reads/s in total | × one database |',
    '|---|---|---|---|---|---|',
    ...result.scale.map(
      (s) =>
        `| ${s.databases} | ${s.commitsPerSecond.toFixed(0)} | ${one ? (s.commitsPerSecond / one.commitsPerSecond).toFixed(1) : '–'}× | ${s.requestsPerCommit.toFixed(2)} | ${s.readsPerSecond.toFixed(0)} | ${one ? (s.readsPerSecond / one.readsPerSecond).toFixed(1) : '–'}× |`,
    ),
    '',
    `- Memory: a fresh process with ${result.memory.databases} open idle databases (default settings) has ${result.memory.openMiB.toFixed(0)} MiB RSS, ${result.memory.baselineMiB.toFixed(0)} MiB before the first open: ${result.memory.perDatabaseMiB.toFixed(2)} MiB per open database.`,
    `- Stall: ${result.stall.healthyDatabases} healthy databases × ${result.stall.queriesEach} queries take ${result.stall.withoutMs.toFixed(1)} ms each on average; ${result.stall.withMs.toFixed(1)} ms (longest ${result.stall.worstWithMs.toFixed(1)} ms) while another database's requests hang${result.stall.stallCovered ? '' : ' (the stall ended before they did)'}. The stalled query fails after ${result.stall.stalledFailedAfterSeconds.toFixed(1)} s (requestTimeoutMs ${STALL_TIMEOUT_MS}, ${STALL_RETRIES} retry): ${result.stall.stalledError.split('\n')[0]}`,
    `- Two processes × ${result.counter.incrementsEach} read-modify-write increments, default busyTimeoutMs: counter ${result.counter.counter} (${result.counter.processes * result.counter.incrementsEach} wanted), ${result.counter.attempts} attempts for ${result.counter.processes * result.counter.incrementsEach} increments, ${result.counter.busyThrown} SQLITE_BUSY thrown to the caller, ${result.counter.seconds.toFixed(1)} s.`,
    '',
    'Targets:',
    '',
    ...manyTargets(result).map((line) => `- ${line}`),
    '',
  ];
  return lines.join('\n');
}

function manyTargets(result: ManyResult): string[] {
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const one = result.scale.find((s) => s.databases === 1);
  const out: string[] = [];
  for (const [databases, factor] of [
    [16, 10],
    [64, 30],
  ] as const) {
    const s = result.scale.find((r) => r.databases === databases);
    if (one && s)
      out.push(
        `${databases} databases commit ${(s.commitsPerSecond / one.commitsPerSecond).toFixed(1)}× the one-database rate (at least ${factor}×): ${verdict(s.commitsPerSecond >= factor * one.commitsPerSecond)}`,
      );
  }
  const ratio = result.stall.withMs / result.stall.withoutMs;
  out.push(
    `healthy queries during a stall: ${ratio.toFixed(2)}× their time without it (at most 2×), the stalled one failed by its timeout: ${verdict(ratio <= 2 && result.stall.stallCovered && /timed out/.test(result.stall.stalledError))}`,
  );
  const rss = result.memory.openMiB;
  out.push(`${result.memory.databases} idle databases: ${rss.toFixed(0)} MiB RSS (under 1536 MiB): ${verdict(rss < 1536)}`);
  const wanted = result.counter.processes * result.counter.incrementsEach;
  out.push(
    `racing increments: counter ${result.counter.counter} of ${wanted}, ${result.counter.busyThrown} thrown: ${verdict(result.counter.counter === wanted && result.counter.busyThrown === 0)}`,
  );
  return out;
}
