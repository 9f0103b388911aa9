import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@blockvfs/core/testing';
import type { BlockStore } from '@blockvfs/core';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { sourceEnv, sourceExecArgv } from './child-node.js';

/**
 * Writers in processes of their own (writer-child.ts, run from its TypeScript source
 * like everything vitest tests: see child-node.ts), on a store that both sides reach: a
 * folder, or an S3, GCS or Azure endpoint. Two workloads:
 *
 * - `killWritersAtRandom`: a child inserts rows in a loop, one commit each, and is
 *   killed with SIGKILL at a random moment after its first acknowledged commit; the
 *   database must reopen intact, holding every acknowledged row (and at most the one in
 *   flight);
 * - `concurrentIncrements`: several children increment one counter, each increment its
 *   own read-then-write transaction, retrying on SQLITE_BUSY; at the end the counter
 *   equals the acknowledged increments: nothing lost, nothing doubled. The writers'
 *   first increments are made to collide, so that the retries are sure to be exercised.
 *
 * Each checks that what it claims to test happened (commits lost and retried; kills
 * landing mid-commit), so that a run in which it did not fails instead of passing.
 */

/**
 * How a child process makes its store: the module to import (a path or file URL; it
 * exports `createStore(options)`, returning a BlockStore) and the options, as JSON.
 * A store package's tests provide one for their store; `fsChildStore` is the folder's.
 * The module runs as TypeScript source, with `@blockvfs/*` resolving to sources.
 */
export interface ChildStoreSpec {
  module: string;
  options: unknown;
}

// From src/ or dist/ alike, the child runs the sources: never a build.
const CHILD = fileURLToPath(new URL('../src/writer-child.ts', import.meta.url));
const FS_CHILD_STORE = fileURLToPath(new URL('../src/fs-child-store.ts', import.meta.url));

/** The child-process spec of an FsStore on `root`. */
export function fsChildStore(root: string): ChildStoreSpec {
  return { module: FS_CHILD_STORE, options: { root } };
}

export interface WriterSpec {
  store: ChildStoreSpec;
  name: string;
  task: 'insert-loop' | 'increment';
  /** insert-loop: the first id; increment: how many increments. */
  count: number;
  worker: number;
  lease?: boolean;
  /** increment: ms between the read and the write of each increment after the first (default 0). */
  pause?: number;
  /** The Database's busyTimeoutMs (default its own, 5000 ms). */
  busyTimeoutMs?: number;
}

export interface Writer {
  readonly child: ChildProcess;
  /** Numbers acknowledged so far (`ack <n>` lines). */
  readonly acks: number[];
  /** The last id whose commit began (`begin <id>` lines, insert-loop). */
  begun: number | undefined;
  /** Transactions run again after losing their commit to another writer (`busy` lines). */
  busy: number;
  /** Resolves on the first `wait` line: the child waits for `go()`. */
  readonly waiting: Promise<void>;
  /** Resolves on the first `ready` line. */
  readonly ready: Promise<void>;
  /** Lets a waiting child go on. */
  go(): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startWriter(spec: WriterSpec): Writer {
  const child = spawn(process.execPath, [...sourceExecArgv(), CHILD, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'], env: sourceEnv() });
  // Writing `go` to a child that has died fails with EPIPE: its exit is what reports that.
  child.stdin?.on('error', () => undefined);
  const acks: number[] = [];
  let stderr = '';
  let markWaiting!: () => void;
  let markReady!: () => void;
  const waiting = new Promise<void>((resolve) => (markWaiting = resolve));
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const writer: Writer = {
    child,
    acks,
    begun: undefined,
    busy: 0,
    waiting,
    ready,
    go: () => child.stdin?.end('go\n'),
    // 'close', not 'exit': every line the child wrote has been read by then.
    exited: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr }))),
  };
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'wait') markWaiting();
      else if (line === 'ready') markReady();
      else if (line === 'busy') writer.busy += 1;
      else if (line.startsWith('begin ')) writer.begun = Number(line.slice(6));
      else if (line.startsWith('ack ')) acks.push(Number(line.slice(4)));
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // A child that dies early must not leave the caller waiting.
  void writer.exited.then(() => {
    markWaiting();
    markReady();
  });
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
  /** Kills that landed while a commit was under way, as this process saw the child's lines (after a `begin`, before its `ack`). */
  midCommit: number;
}

export async function killWritersAtRandom(options: KillOptions): Promise<KillReport> {
  const name = options.name ?? 'killed.db';
  const kills = options.kills ?? 5;
  const maxLifetime = options.maxLifetime ?? 1500;
  const random = mulberry32(options.seed ?? 1); // seeded, so that a failing run can be repeated
  const setup = await openDatabase({ store: options.store, name });
  await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  await setup.close();

  const start = (k: number) => startWriter({ store: options.child, name, task: 'insert-loop', count: (k + 1) * 1_000_000, worker: k });
  const acknowledged = new Set<number>();
  let inFlight = 0;
  let midCommit = 0;
  // Each writer waits for go() before it opens the database, so the next one can start
  // (and load its code) while this one works and is checked.
  let next: Writer | undefined = start(0);
  try {
    for (let k = 0; k < kills; k++) {
      const first = (k + 1) * 1_000_000;
      const writer: Writer = next!;
      next = undefined;
      writer.go();
      await writer.ready;
      await waitFor(() => writer.acks.length > 0 || writer.child.exitCode !== null, 60_000);
      if (k + 1 < kills) next = start(k + 1);
      await new Promise((resolve) => setTimeout(resolve, random() * maxLifetime));
      const acked = writer.acks.length;
      const underWay = writer.begun !== undefined && writer.begun !== writer.acks[acked - 1];
      writer.child.kill('SIGKILL');
      const exit = await writer.exited;
      assert.equal(exit.signal, 'SIGKILL', `writer ${k} died on its own: code ${exit.code}, ${exit.stderr}`);
      assert.ok(acked > 0, `writer ${k} was killed before its first acknowledged commit`);
      if (underWay) midCommit += 1;
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
  } finally {
    next?.child.kill('SIGKILL'); // started, never let go: a failure above
  }
  // The child is busy committing all its life, so kills land mid-commit; a run where none
  // did would have tested only kills between commits.
  assert.ok(midCommit > 0, `none of the ${kills} kills landed while a commit was under way`);
  return { kills, acknowledged: acknowledged.size - inFlight, inFlight, midCommit };
}

export interface IncrementOptions {
  store: BlockStore;
  child: ChildStoreSpec;
  name?: string;
  writers?: number;
  increments?: number;
  lease?: boolean;
  /** ms between the read and the write of each increment after the first, for other writers to commit in (default 5). */
  pause?: number;
  /**
   * The writers' busyTimeoutMs (default the Database's, 5000 ms). Writers racing without a
   * lease take no turns: on a slow store, one of four can lose a commit race again and
   * again for longer than 5 s while the others keep winning.
   */
  busyTimeoutMs?: number;
}

export interface IncrementReport {
  writers: number;
  acknowledged: number;
  /** Transactions run again by the Database after losing their commit to another writer: at least writers - 1. */
  busy: number;
  counter: number;
}

/**
 * A few ms: long enough that another writer's commit often lands between an increment's
 * read and its write (the interleaving a lost update needs), short enough to cost little
 * beside a commit's own requests.
 */
const PAUSE = 5;

export async function concurrentIncrements(options: IncrementOptions): Promise<IncrementReport> {
  const name = options.name ?? 'counter.db';
  const count = options.writers ?? 4;
  const increments = options.increments ?? 20;
  const pause = options.pause ?? PAUSE;
  const setup = await openDatabase({ store: options.store, name });
  await setup.exec(
    'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0); CREATE TABLE increments (worker INTEGER, i INTEGER, PRIMARY KEY (worker, i))',
  );
  await setup.close();

  const writers = Array.from({ length: count }, (_, worker) =>
    startWriter({
      store: options.child,
      name,
      task: 'increment',
      count: increments,
      worker,
      pause,
      ...(options.lease ? { lease: true } : {}),
      ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    }),
  );
  // Each writer waits after its first read: once all have read the counter, none has
  // written it, so all but one must lose their first commit with SQLITE_BUSY and retry.
  await Promise.all(writers.map((writer) => writer.waiting));
  for (const writer of writers) writer.go();
  const exits = await Promise.all(writers.map((writer) => writer.exited));
  for (const [worker, exit] of exits.entries()) assert.equal(exit.code, 0, `writer ${worker} failed: ${exit.stderr}`);
  const acknowledged = writers.reduce((sum, writer) => sum + writer.acks.length, 0);
  assert.equal(acknowledged, count * increments, 'every writer finished its increments');
  const busy = writers.reduce((sum, writer) => sum + writer.busy, 0);
  assert.ok(busy >= count - 1, `${busy} commits lost to other writers, fewer than the ${count - 1} that the first increments' race must cost`);

  const db = await openDatabase({ store: options.store, name });
  try {
    assert.deepEqual(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    const counter = Number((await db.get('SELECT n FROM counter WHERE id = 1'))?.n);
    const logged = Number((await db.get('SELECT count(*) AS n FROM increments'))?.n);
    assert.equal(counter, acknowledged, 'the counter equals the acknowledged increments');
    assert.equal(logged, acknowledged, 'one logged row per acknowledged increment');
    return { writers: count, acknowledged, busy, counter };
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
