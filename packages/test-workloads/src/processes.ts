import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mulberry32, type BlockStore } from '@blockvfs/core';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

/**
 * Writers in processes of their own (dist/writer-child.js), on a store that both sides
 * reach: a folder, or an S3 endpoint. Two workloads:
 *
 * - `killWritersAtRandom`: a child inserts rows in a loop, one commit each, and is
 *   killed with SIGKILL at a random moment; the database must reopen intact, holding
 *   every acknowledged row (and at most the one in flight);
 * - `concurrentIncrements`: several children increment one counter, each increment its
 *   own read-then-write transaction, retrying on SQLITE_BUSY; at the end the counter
 *   equals the acknowledged increments: nothing lost, nothing doubled.
 */

/**
 * How a child process makes its store: the module to import (a path or file URL; it
 * exports `createStore(options)`, returning a BlockStore) and the options, as JSON.
 * A store package's tests provide one for their store; `fsChildStore` is the folder's.
 */
export interface ChildStoreSpec {
  module: string;
  options: unknown;
}

/** The child-process spec of an FsStore on `root`. */
export function fsChildStore(root: string): ChildStoreSpec {
  return { module: fileURLToPath(new URL('../dist/fs-child-store.js', import.meta.url)), options: { root } };
}

export interface WriterSpec {
  store: ChildStoreSpec;
  name: string;
  task: 'insert-loop' | 'increment';
  /** insert-loop: the first id; increment: how many increments. */
  count: number;
  worker: number;
  lease?: boolean;
}

const CHILD = fileURLToPath(new URL('../dist/writer-child.js', import.meta.url));

export interface Writer {
  readonly child: ChildProcess;
  /** Numbers acknowledged so far (`ack <n>` lines). */
  readonly acks: number[];
  /** Commits lost to other writers and retried. */
  busy: number;
  /** Resolves on the first `ready` line. */
  readonly ready: Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startWriter(spec: WriterSpec): Writer {
  if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: build the workspace first (pnpm build)`);
  const child = spawn(process.execPath, [CHILD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: number[] = [];
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const writer: Writer = {
    child,
    acks,
    busy: 0,
    ready,
    // 'close', not 'exit': every line the child wrote has been read by then.
    exited: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr }))),
  };
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') markReady();
      else if (line === 'busy') writer.busy += 1;
      else if (line.startsWith('ack ')) acks.push(Number(line.slice(4)));
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // A child that dies before `ready` must not leave the caller waiting.
  void writer.exited.then(() => markReady());
  return writer;
}

export interface KillOptions {
  /** The store as this process reaches it, and as the children do. */
  store: BlockStore;
  child: ChildStoreSpec;
  name?: string;
  kills?: number;
  /** Each child lives for a random time up to this many ms after its first commit. */
  maxLifetime?: number;
  seed?: number;
}

export interface KillReport {
  kills: number;
  /** Rows acknowledged by all children together, all found after the kills. */
  acknowledged: number;
  /** Rows found that no child had acknowledged yet (its commit was in flight when it died): at most one per kill. */
  inFlight: number;
}

export async function killWritersAtRandom(options: KillOptions): Promise<KillReport> {
  const name = options.name ?? 'killed.db';
  const kills = options.kills ?? 5;
  const maxLifetime = options.maxLifetime ?? 1500;
  const next = mulberry32(options.seed ?? 1); // seeded, so that a failing run can be repeated
  const setup = await openDatabase({ store: options.store, name });
  await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  await setup.close();

  const acknowledged = new Set<number>();
  let inFlight = 0;
  for (let k = 0; k < kills; k++) {
    const first = (k + 1) * 1_000_000;
    const writer = startWriter({ store: options.child, name, task: 'insert-loop', count: first, worker: k });
    await writer.ready;
    await waitFor(() => writer.acks.length > 0 || writer.child.exitCode !== null, 60_000);
    await new Promise((resolve) => setTimeout(resolve, next() * maxLifetime));
    writer.child.kill('SIGKILL');
    const exit = await writer.exited;
    assert.equal(exit.signal, 'SIGKILL', `writer ${k} died on its own: code ${exit.code}, ${exit.stderr}`);
    for (const id of writer.acks) acknowledged.add(id);

    const db = await openDatabase({ store: options.store, name });
    try {
      assert.deepEqual(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' }, `after kill ${k}`);
      const ids = new Set((await db.all<{ id: number }>('SELECT id FROM t')).map((row) => row.id));
      for (const id of acknowledged) assert.ok(ids.has(id), `after kill ${k}: acknowledged row ${id} is missing`);
      const extra = [...ids].filter((id) => !acknowledged.has(id));
      // At most the row whose commit was in flight when its writer died: the next id after its last ack.
      const last = writer.acks.length > 0 ? (writer.acks[writer.acks.length - 1] as number) : first - 1;
      const unexpected = extra.filter((id) => !(id === last + 1 && id >= first && id < first + 1_000_000));
      assert.deepEqual(unexpected, [], `after kill ${k}: rows nobody acknowledged`);
      for (const id of extra) acknowledged.add(id); // it is committed: later checks must find it too
      inFlight += extra.length;
    } finally {
      await db.close();
    }
  }
  return { kills, acknowledged: acknowledged.size - inFlight, inFlight };
}

export interface IncrementOptions {
  store: BlockStore;
  child: ChildStoreSpec;
  name?: string;
  writers?: number;
  increments?: number;
  lease?: boolean;
}

export interface IncrementReport {
  writers: number;
  acknowledged: number;
  /** Commits lost to another writer (SQLITE_BUSY) and retried. */
  busy: number;
  counter: number;
}

export async function concurrentIncrements(options: IncrementOptions): Promise<IncrementReport> {
  const name = options.name ?? 'counter.db';
  const count = options.writers ?? 4;
  const increments = options.increments ?? 20;
  const setup = await openDatabase({ store: options.store, name });
  await setup.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0); CREATE TABLE increments (worker INTEGER, i INTEGER, PRIMARY KEY (worker, i))');
  await setup.close();

  const writers = Array.from({ length: count }, (_, worker) =>
    startWriter({ store: options.child, name, task: 'increment', count: increments, worker, ...(options.lease ? { lease: true } : {}) }),
  );
  const exits = await Promise.all(writers.map((writer) => writer.exited));
  for (const [worker, exit] of exits.entries()) assert.equal(exit.code, 0, `writer ${worker} failed: ${exit.stderr}`);
  const acknowledged = writers.reduce((sum, writer) => sum + writer.acks.length, 0);
  assert.equal(acknowledged, count * increments, 'every writer finished its increments');

  const db = await openDatabase({ store: options.store, name });
  try {
    assert.deepEqual(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    const counter = Number((await db.get('SELECT n FROM counter WHERE id = 1'))?.n);
    const logged = Number((await db.get('SELECT count(*) AS n FROM increments'))?.n);
    assert.equal(counter, acknowledged, 'the counter equals the acknowledged increments');
    assert.equal(logged, acknowledged, 'one logged row per acknowledged increment');
    return { writers: count, acknowledged, busy: writers.reduce((sum, writer) => sum + writer.busy, 0), counter };
  } finally {
    await db.close();
  }
}

async function waitFor(condition: () => boolean, timeout: number): Promise<void> {
  const until = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
