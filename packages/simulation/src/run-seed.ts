import { setSegmentMinimum } from '@blockvfs/core/testing';
import { MAX_IDLE_ENGINES, openDatabase, warmEngines } from '@blockvfs/vfs-wasqlite';
import { finalCheck, midRunCheck } from './checks.js';
import { installEnvironment, type RealTimeUse } from './determinism.js';
import { describeError } from './errors.js';
import { FormatMonitor } from './format-monitor.js';
import type { Finding } from './guarantees.js';
import { InstantStore } from './instant-store.js';
import { Oracle, type Outcome } from './oracle.js';
import { SimProcess } from './process.js';
import { Random } from './random.js';
import { Scheduler, StuckError } from './scheduler.js';
import { SCHEMA } from './schema.js';
import { SimObjects } from './sim-objects.js';
import type { StoreMutation } from './sim-store.js';
import { drawSwarm, type Swarm, type SwarmOverrides } from './swarm.js';
import { Trace } from './trace.js';
import { World } from './world.js';

/**
 * One seed, end to end: draw the swarm, build the world (bucket, monitor, oracle,
 * scheduler), create the database, run the processes and the clean checks in virtual
 * time, then the final check; close everything; report.
 */

/** Virtual time of every run's start (a fixed date, so that runs are reproducible). */
export const EPOCH = Date.UTC(2030, 0, 1);

export interface RunOptions {
  overrides?: SwarmOverrides;
  /** Break the store on purpose (oracle self-tests only). */
  mutation?: StoreMutation;
  /** Trace lines kept for the report. */
  traceTail?: number;
}

export interface SeedStats {
  events: number;
  requests: number;
  faults: number;
  ops: Record<Outcome, number>;
  commits: number;
  reads: number;
  monitorChecks: number;
  virtualMs: number;
  wallMs: number;
  mathRandomCalls: number;
}

export interface SeedResult {
  seed: number;
  ok: boolean;
  findings: Finding[];
  swarm: Swarm;
  traceHash: string;
  /** The trace's last lines up to the first finding (empty without findings). */
  traceTail: string[];
  /** Real-time calls from the code under test (should be none). */
  realTime: RealTimeUse[];
  stats: SeedStats;
}

/** Thrown when a run left the shared SQLite module unusable (a call that never returns holds its queue). */
export class WedgedError extends Error {
  override readonly name = 'WedgedError';
}

let warm: Promise<void> | undefined;

/** Compiles the wa-sqlite code and opens one database once per Node process, outside any simulated run. */
export function warmUp(): Promise<void> {
  warm ??= (async () => {
    const db = await openDatabase({ store: new InstantStore(), name: 'warm.db' });
    await db.exec('CREATE TABLE t (x)');
    await db.close();
  })();
  return warm;
}

export async function runSeed(seed: number, options: RunOptions = {}): Promise<SeedResult> {
  await warmUp();
  // Every run starts with the same idle engines (one SQLite module per Database): which ones a run
  // instantiates must not depend on the runs before it, or a seed would not replay alike.
  await warmEngines(MAX_IDLE_ENGINES);
  const wallStart = performance.now();
  const swarm = drawSwarm(seed, options.overrides);
  const root = new Random(seed);
  const environment = installEnvironment(root.fork('environment'));
  const scheduler = new Scheduler(EPOCH);
  const trace = new Trace(Math.max(400, options.traceTail ?? 0));
  const objects = new SimObjects(swarm.etags);
  const oracle = new Oracle(
    () => scheduler.now - EPOCH,
    (text) => trace.line(scheduler.now - EPOCH, text),
    () => trace.markFinding(),
  );
  const maxSkewMs = Math.max(0, ...swarm.processes.map((p) => Math.abs(p.skewMs)));
  const monitor = new FormatMonitor({
    name: 'sim.db',
    objects,
    now: () => scheduler.now,
    maxSkewMs,
    report: (guarantee, message) => oracle.finding(guarantee, `on the store: ${message}`),
  });
  objects.observers.push(monitor);
  const world = new World({ scheduler, objects, trace, oracle, monitor, swarm, random: root.fork('world'), epoch: EPOCH, mutation: options.mutation });
  const unhandled = (reason: unknown): void => oracle.finding('progress', `an unhandled rejection: ${describeError(reason)}`);
  process.on('unhandledRejection', unhandled);
  // Seeds run one at a time in a process: the setting is this seed's alone.
  const segmentMinimum = setSegmentMinimum(swarm.segmentBlocks);
  try {
    try {
      await scheduler.run(() => main(world), { maxEvents: 500_000, maxWallMs: 120_000 });
    } catch (error) {
      oracle.finding('progress', error instanceof StuckError ? error.message : `the run itself crashed: ${describeError(error)}`);
    }
    await cleanUp(world);
  } finally {
    setSegmentMinimum(segmentMinimum);
    process.off('unhandledRejection', unhandled);
    environment.restore();
  }
  const stores = [...world.stores];
  return {
    seed,
    ok: oracle.findings.length === 0,
    findings: oracle.findings,
    swarm,
    traceHash: trace.digest(),
    traceTail: trace.tailAtFirstFinding(options.traceTail ?? 60),
    realTime: environment.realTime,
    stats: {
      events: scheduler.events,
      requests: stores.reduce((sum, store) => sum + store.requests, 0),
      faults: stores.reduce((sum, store) => sum + store.faults, 0),
      ops: oracle.outcomes(),
      commits: monitor.latest,
      reads: oracle.reads.length,
      monitorChecks: monitor.checks,
      virtualMs: scheduler.now - EPOCH,
      wallMs: Math.round(performance.now() - wallStart),
      mathRandomCalls: environment.mathRandomCalls,
    },
  };
}

async function main(world: World): Promise<void> {
  const { swarm, scheduler } = world;
  await setUp(world);
  let nextCheck = 0;
  world.onOpDone = () => {
    while (nextCheck < swarm.checksAfterOps.length && world.opsDone >= (swarm.checksAfterOps[nextCheck] as number)) {
      nextCheck += 1;
      world.checks.push(midRunCheck(world, nextCheck));
    }
  };
  await Promise.all(swarm.processes.map((plan) => new SimProcess(world, plan).run()));
  await Promise.all(world.checks);
  // Requests still in the air (hung, or of killed processes) land or are dropped before the final check.
  const settle = Math.max(...swarm.processes.map((p) => p.store.hangMs.max + p.store.lateLanding.maxMs)) + 60_000;
  await scheduler.sleep(settle);
  world.line('all processes done; in-flight requests settled');
  for (const db of world.databases) if (!db.closed) await db.close().catch(() => undefined); // killed processes' connections
  await finalCheck(world);
}

/** The database is created by a clean process before the run (its first commit is SQLite's journal-mode transaction). */
async function setUp(world: World): Promise<void> {
  const { store, clock } = world.cleanStore('setup');
  const db = await openDatabase({ store, name: world.name, clock, pageSize: world.swarm.pageSize, blockSize: world.swarm.blockSize });
  world.databases.add(db);
  await db.exec(SCHEMA);
  await db.close();
  world.line('database created');
}

/**
 * Kills every store (so nothing can still wait for one) and closes every connection
 * still open: their engines go back to the pool for the next seed, whose memory must not
 * grow with the seeds.
 */
async function cleanUp(world: World): Promise<void> {
  for (const store of world.stores) store.kill();
  const open = [...world.databases].filter((db) => !db.closed);
  if (open.length === 0) return;
  try {
    // The same scheduler: a killed store's retry layer may still sleep on its process's clock.
    await world.scheduler.run(
      async () => {
        for (const db of open) await db.close().catch(() => undefined);
      },
      { maxEvents: 100_000, maxWallMs: 10_000 },
    );
  } catch (error) {
    throw new WedgedError(`closing the run's connections does not finish (${describeError(error)}): this process's SQLite module is unusable`);
  }
}
