import { DEFAULT_BLOCK_SIZE, MIN_GRACE_MS } from '@blockvfs/core';
import { DEFAULT_SEGMENT_BLOCKS } from '@blockvfs/core/testing';
import { Random } from './random.js';
import type { EtagStyle } from './sim-objects.js';
import { STORE_OPS, type FaultProfile, type StoreOp, type StoreProfile } from './sim-store.js';

/**
 * Swarm testing (TigerBeetle's VOPR): each seed also draws *which* faults are on, how
 * often, and the shape of the world (processes, options, sizes), so that some runs
 * hammer one failure mode and others mix them all. Everything here is plain data, drawn
 * from the seed's `swarm` stream before the run starts, and printed with a failure.
 */

export type Op =
  | { kind: 'insert'; large: boolean }
  | { kind: 'delete'; pick: number }
  | { kind: 'increment'; counter: number; thinkMs: number }
  | { kind: 'read'; thinkMs: number }
  | { kind: 'checkpoint' }
  | { kind: 'gc' }
  | { kind: 'idle'; ms: number }
  | { kind: 'vacuum' }
  | { kind: 'reopen' }
  /**
   * Brings back the commit `back` commits before the process's view, as a commit that removes the ops in between:
   * by restoreCommit, or by exporting that commit (serialize) and importing the file over the database (deserialize).
   */
  | { kind: 'restore'; back: number; via: 'restoreCommit' | 'import' }
  /** A read transaction on the process's second connection (thinking for a while) beside a write on its first. */
  | { kind: 'overlap'; thinkMs: number; write: 'insert' | 'increment' };

export type OpKind = Op['kind'];

export interface LifePlan {
  ops: Op[];
  /** The process dies at its Nth store request of this life (undefined: it lives to the end of its ops). */
  killAtRequest?: number;
}

export interface ProcessPlan {
  id: number;
  role: 'writer' | 'reader';
  /** Writer lease ttl in ms, or false for none. */
  lease: false | number;
  freshnessMs: number;
  retries: number;
  /** `PRAGMA cache_size = 10`: SQLite spills its page cache inside transactions. */
  smallCache: boolean;
  /** The VFS's block cache off (every block read is a request). */
  noBlockCache: boolean;
  /** Writers only: a second connection in the same process (same options: it shares the file, its view and its locks). */
  twoConnections: boolean;
  skewMs: number;
  store: StoreProfile;
  lives: LifePlan[];
}

export type Frequency = 'off' | 'sometimes' | 'often';

export interface Swarm {
  seed: number;
  /** "Two processes under 10 % random faults with 1 retry": the reported case, drawn often. */
  classic: boolean;
  /** A collection storm: frequent collections at the shortest grace, long idles, kills in commits, requests landing minutes late. */
  storm: boolean;
  /** Writers delete large rows and VACUUM after deletes, then read: the file shrinks, often. */
  shrinking: boolean;
  /** Writers restore older commits now and then. */
  restores: boolean;
  /** How often processes checkpoint and collect: never, now and then (the plans as drawn), or often. */
  checkpoints: Frequency;
  collections: Frequency;
  pageSize: number;
  blockSize: number;
  /** The checkpoints' segment minimum (setSegmentMinimum): small ones segment the small files simulated here. */
  segmentBlocks: number;
  etags: EtagStyle;
  gc: { retentionMs: number; graceMs: number };
  processes: ProcessPlan[];
  /** Clean checks run after this many ops have finished (counted over all processes). */
  checksAfterOps: number[];
  /** Time travel to every kept commit up to this many, a sample beyond. */
  timeTravelLimit: number;
}

/** Overrides applied after drawing (to replay a seed with one thing changed, e.g. a fault kind off). */
export interface SwarmOverrides {
  /** Scale every fault rate (0 turns faults off). */
  faultScale?: number;
  /** Only these store ops may fault. */
  faultOps?: StoreOp[];
  /** No kills. */
  noKills?: boolean;
  /** Only the processes with these ids run. */
  processes?: number[];
  /** Drop ops of these kinds from every plan. */
  dropOps?: OpKind[];
  /** Keep only the first N ops of each life. */
  maxOps?: number;
  /** Hang fates off. */
  noHangs?: boolean;
  /** Late landings off. */
  noLateLanding?: boolean;
  /** Cap the think time inside transactions (0: none: no long transactions). */
  maxThinkMs?: number;
  /** Cap idle pauses. */
  maxIdleMs?: number;
}

const MINUTE = 60_000;

export function drawSwarm(seed: number, overrides: SwarmOverrides = {}): Swarm {
  const random = new Random(seed).fork('swarm');
  const classic = random.chance(0.3);
  const pageSize = random.weighted([
    [4096, 8],
    [1024, 1],
    [8192, 1],
  ] as const);
  const blockSize = random.weighted([
    [pageSize, 5],
    [DEFAULT_BLOCK_SIZE, 2], // what a database gets when it names none: 16 pages of 4 KiB share a block
    [8192, 1],
    [4097, 1],
    [1024, 1],
  ] as const);
  const etags: EtagStyle = random.chance(0.5) ? 'content' : 'version';
  const gc = { retentionMs: random.pick([0, 0, MINUTE, 5 * MINUTE]), graceMs: random.pick([MIN_GRACE_MS, MIN_GRACE_MS, 3 * MINUTE, 10 * MINUTE]) };

  // The world's requests: latency, listing pages, late landings.
  const latencyMax = random.pick([5, 20, 80, 300]);
  const base: Omit<StoreProfile, 'faults'> = {
    latency: { min: 1, max: latencyMax },
    hangMs: { min: 2_000, max: random.pick([10_000, 60_000, 3 * MINUTE]) },
    listPageSize: random.pick([1, 2, 3, 1000]),
    maxDeleteBatch: random.pick([1000, 2]),
    lateLanding: { probability: random.pick([0, 0.5, 1]), maxMs: random.pick([1_000, 30_000, 4 * MINUTE]) },
  };

  const faultsOn = random.chance(0.85);
  const sharedFaults = drawFaults(random, faultsOn);
  const count = classic ? 2 : random.int(1, 3);
  const processes: ProcessPlan[] = [];
  for (let id = 1; id <= count; id++) {
    const r = random.fork(`process ${id}`);
    const role = id === 1 || classic || r.chance(0.6) ? 'writer' : 'reader';
    const faults = classic
      ? { failBefore: 0.1, failAfter: r.chance(0.3) ? 0.03 : 0, hang: 0, ops: STORE_OPS }
      : r.chance(0.7)
        ? sharedFaults
        : drawFaults(r, faultsOn);
    const plan: ProcessPlan = {
      id,
      role,
      lease: classic || role === 'reader' || !r.chance(0.3) ? false : r.pick([5_000, 30_000]),
      freshnessMs: classic
        ? 0
        : r.weighted([
            [0, 6],
            [2_000, 1],
            [5_000, 1],
            [90_000, 1],
          ] as const),
      retries: classic ? 1 : r.pick([0, 1, 1, 2]),
      smallCache: r.chance(0.25),
      noBlockCache: r.chance(0.15),
      twoConnections: role === 'writer' && !classic && r.chance(0.25),
      skewMs: r.int(-3_000, 3_000),
      store: { ...base, faults },
      lives: [],
    };
    const lives = classic
      ? 1
      : r.weighted([
          [1, 5],
          [2, 3],
          [3, 1],
        ] as const);
    for (let life = 0; life < lives; life++) {
      // A life that is not the last ends in a kill most of the time (then the process restarts); the classic case has none.
      const kill = classic ? false : life < lives - 1 ? r.chance(0.8) : r.chance(0.15);
      plan.lives.push({ ops: drawOps(r, role, classic ? r.int(10, 24) : r.int(6, 16), plan.twoConnections), ...(kill ? { killAtRequest: r.int(1, 80) } : {}) });
    }
    processes.push(plan);
  }
  const checks = random.weighted([
    [0, 2],
    [1, 2],
    [2, 1],
  ] as const);
  const totalOps = processes.reduce((sum, p) => sum + p.lives.reduce((n, life) => n + life.ops.length, 0), 0);
  const checksAfterOps = Array.from({ length: checks }, () => random.int(1, Math.max(1, totalOps))).sort((a, b) => a - b);
  const swarm: Swarm = {
    seed,
    classic,
    storm: false,
    shrinking: false,
    restores: false,
    checkpoints: 'sometimes',
    collections: 'sometimes',
    pageSize,
    blockSize,
    segmentBlocks: DEFAULT_SEGMENT_BLOCKS,
    etags,
    gc,
    processes,
    checksAfterOps,
    timeTravelLimit: 40,
  };
  // Drawn from streams of their own, after the rest, so that adding them left the other choices of every seed as they were.
  const mix = new Random(seed).fork('checkpoint and collection frequency');
  swarm.checkpoints = mix.weighted(FREQUENCIES);
  frequency(swarm, 'checkpoint', swarm.checkpoints, mix);
  swarm.collections = mix.weighted(FREQUENCIES);
  frequency(swarm, 'gc', swarm.collections, mix);
  const stormy = new Random(seed).fork('storm');
  if (!classic && stormy.chance(0.12)) storm(swarm, stormy);
  const shrinks = new Random(seed).fork('shrinking');
  if (shrinks.chance(0.1)) shrinking(swarm, shrinks);
  const restores = new Random(seed).fork('restores');
  if (restores.chance(0.2)) restoring(swarm, restores);
  swarm.segmentBlocks = new Random(seed).fork('checkpoint segments').weighted([
    [DEFAULT_SEGMENT_BLOCKS, 2], // larger than any file here: no checkpoint is segmented
    [4, 2],
    [16, 1],
    [1, 1], // a segment per block, up to 64 segments
  ] as const);
  return applyOverrides(swarm, overrides);
}

/**
 * Files that shrink: large rows (their overflow pages are freed when deleted), and after a
 * delete, often a VACUUM (which truncates the file after its commit) and then a read.
 */
function shrinking(swarm: Swarm, random: Random): void {
  swarm.shrinking = true;
  for (const plan of swarm.processes) {
    if (plan.role !== 'writer') continue;
    plan.lives = plan.lives.map((life) => {
      const ops: Op[] = [];
      for (const op of life.ops) {
        ops.push(op.kind === 'insert' && random.chance(0.4) ? { kind: 'insert', large: true } : op);
        if (op.kind === 'delete' && random.chance(0.6)) ops.push({ kind: 'vacuum' }, { kind: 'idle', ms: random.int(1, 3_000) }, { kind: 'read', thinkMs: 0 });
      }
      return { ...life, ops };
    });
  }
}

/**
 * Restores: now and then a writer brings back an older commit (restoreCommit), which
 * removes the ops committed since, beside writers and readers whose connections hold
 * pages of the state it replaces.
 */
function restoring(swarm: Swarm, random: Random): void {
  swarm.restores = true;
  // A stream of its own, so that adding imports left the other choices of every seed as they were.
  const via = random.fork('restore via');
  for (const plan of swarm.processes) {
    if (plan.role !== 'writer') continue;
    plan.lives = plan.lives.map((life) => {
      const ops: Op[] = [];
      for (const op of life.ops) {
        ops.push(op);
        if (random.chance(0.12)) ops.push({ kind: 'restore', back: random.int(1, 4), via: via.chance(0.4) ? 'import' : 'restoreCommit' });
      }
      return { ...life, ops };
    });
  }
}

const FREQUENCIES: ReadonlyArray<readonly [Frequency, number]> = [
  ['off', 1],
  ['sometimes', 2],
  ['often', 1],
];

/** Checkpoints (or collections) off: none in any writer's plan; often: one more after a quarter of the writers' ops. */
function frequency(swarm: Swarm, kind: 'checkpoint' | 'gc', how: Frequency, random: Random): void {
  if (how === 'sometimes') return;
  for (const plan of swarm.processes) {
    if (plan.role !== 'writer') continue;
    plan.lives = plan.lives.map((life) => {
      if (how === 'off') return { ...life, ops: life.ops.filter((op) => op.kind !== kind) };
      const ops: Op[] = [];
      for (const op of life.ops) {
        ops.push(op);
        if (random.chance(0.25)) ops.push({ kind } as Op);
      }
      return { ...life, ops };
    });
  }
}

/**
 * Turns a swarm into a collection storm: what the collector's safety argument (§8) rests
 * on, pushed hard. Collections at the shortest grace and no retention, writers idle past
 * it, processes killed in the middle of their commits whose requests land minutes later.
 */
function storm(swarm: Swarm, random: Random): void {
  swarm.storm = true;
  swarm.gc = { retentionMs: 0, graceMs: MIN_GRACE_MS };
  for (const plan of swarm.processes) {
    const faults = { ...plan.store.faults, failBefore: plan.store.faults.failBefore / 3, failAfter: plan.store.faults.failAfter / 3, hang: 0 };
    plan.store = { ...plan.store, faults, lateLanding: { probability: 1, maxMs: random.int(2 * MINUTE, 8 * MINUTE) } };
    if (plan.role !== 'writer') continue;
    const lives = plan.lives.map((life) => {
      const ops: Op[] = [];
      for (const op of life.ops) {
        ops.push(op);
        if (random.chance(0.3)) ops.push({ kind: 'gc' });
        if (random.chance(0.2)) ops.push({ kind: 'idle', ms: random.int(2 * MINUTE, 5 * MINUTE) });
      }
      return { ...life, ops };
    });
    // A short first life killed early, in the middle of its first commits.
    lives.unshift({ ops: drawOps(random, 'writer', random.int(3, 8), plan.twoConnections), killAtRequest: random.int(3, 25) });
    plan.lives = lives;
  }
}

function drawFaults(random: Random, on: boolean): FaultProfile {
  if (!on) return { failBefore: 0, failAfter: 0, hang: 0, ops: [] };
  const rate = (): number => (random.chance(0.5) ? random.float() * 0.15 : 0);
  const ops = STORE_OPS.filter(() => random.chance(0.75));
  return { failBefore: rate(), failAfter: rate(), hang: random.chance(0.5) ? random.float() * 0.03 : 0, ops: ops.length > 0 ? ops : ['get'] };
}

function drawOps(random: Random, role: 'writer' | 'reader', count: number, twoConnections: boolean): Op[] {
  const weights: Array<readonly [OpKind, number]> =
    role === 'reader'
      ? [
          ['read', 6],
          ['idle', 3],
          ['reopen', 1],
        ]
      : [
          ['insert', 6],
          ['delete', 2],
          ['increment', 5],
          ['read', 4],
          ['checkpoint', 1],
          ['gc', 1],
          ['idle', 3],
          ['vacuum', 0.4],
          ['reopen', 0.6],
          ['overlap', twoConnections ? 3 : 0],
        ];
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random.weighted(weights);
    switch (kind) {
      case 'insert':
        ops.push({ kind, large: random.chance(0.15) });
        break;
      case 'delete':
        ops.push({ kind, pick: random.float() });
        break;
      case 'increment':
        // Some read-modify-writes think for longer than the view's trust window (60 s) before writing.
        ops.push({
          kind,
          counter: random.int(1, 2),
          thinkMs: random.weighted([
            [0, 6],
            [random.int(1, 5_000), 2],
            [random.int(61_000, 100_000), 2],
          ] as const),
        });
        break;
      case 'read':
        ops.push({
          kind,
          thinkMs: random.weighted([
            [0, 6],
            [random.int(1, 5_000), 2],
            [random.int(61_000, 90_000), 1],
          ] as const),
        });
        break;
      case 'overlap':
        ops.push({
          kind,
          thinkMs: random.weighted([
            [random.int(1, 3_000), 3],
            [random.int(61_000, 90_000), 1],
          ] as const),
          write: random.pick(['insert', 'increment'] as const),
        });
        break;
      case 'idle':
        // Short, past the view's trust window, or past the collector's grace period.
        ops.push({
          kind,
          ms: random.weighted([
            [random.int(1, 2_000), 4],
            [random.int(61_000, 100_000), 2],
            [random.int(3 * MINUTE, 12 * MINUTE), 1],
          ] as const),
        });
        break;
      default:
        ops.push({ kind } as Op);
    }
  }
  return ops;
}

function applyOverrides(swarm: Swarm, overrides: SwarmOverrides): Swarm {
  const scale = overrides.faultScale;
  for (const plan of swarm.processes) {
    const faults = { ...plan.store.faults };
    if (scale !== undefined) {
      faults.failBefore *= scale;
      faults.failAfter *= scale;
      faults.hang *= scale;
    }
    if (overrides.faultOps) faults.ops = overrides.faultOps;
    if (overrides.noHangs) faults.hang = 0;
    plan.store = { ...plan.store, faults, ...(overrides.noLateLanding ? { lateLanding: { probability: 0, maxMs: 1 } } : {}) };
    plan.lives = plan.lives.map((life) => {
      let ops = life.ops
        .filter((op) => !overrides.dropOps?.includes(op.kind))
        .map((op): Op => {
          if ((op.kind === 'read' || op.kind === 'increment' || op.kind === 'overlap') && overrides.maxThinkMs !== undefined)
            return { ...op, thinkMs: Math.min(op.thinkMs, overrides.maxThinkMs) };
          if (op.kind === 'idle' && overrides.maxIdleMs !== undefined) return { ...op, ms: Math.min(op.ms, overrides.maxIdleMs) };
          return op;
        });
      if (overrides.maxOps !== undefined) ops = ops.slice(0, overrides.maxOps);
      return overrides.noKills || life.killAtRequest === undefined ? { ops } : { ops, killAtRequest: life.killAtRequest };
    });
  }
  if (overrides.processes) swarm.processes = swarm.processes.filter((plan) => overrides.processes?.includes(plan.id));
  return swarm;
}

/** One line per process, for reports. */
export function describeSwarm(swarm: Swarm): string[] {
  const lines = [
    `page ${swarm.pageSize} B, block ${swarm.blockSize} B, checkpoint segments of ${swarm.segmentBlocks}+ blocks, etags ${swarm.etags}, gc retention ${swarm.gc.retentionMs / 1000} s grace ${swarm.gc.graceMs / 1000} s` +
      `${swarm.classic ? ', classic case (2 writers, 10 % faults, 1 retry)' : ''}${swarm.storm ? ', collection storm' : ''}${swarm.shrinking ? ', shrinking files' : ''}${swarm.restores ? ', restores' : ''}, checkpoints ${swarm.checkpoints}, collections ${swarm.collections}, clean checks after ops [${swarm.checksAfterOps.join(', ')}]`,
  ];
  for (const p of swarm.processes) {
    const f = p.store.faults;
    const faults = f.ops.length === 0 ? 'no faults' : `faults ${f.ops.join('/')}: before ${pct(f.failBefore)} after ${pct(f.failAfter)} hang ${pct(f.hang)}`;
    const store = `latency ≤ ${p.store.latency.max} ms, hang ≤ ${p.store.hangMs.max / 1000} s, list pages of ${p.store.listPageSize}, late landing ${pct(p.store.lateLanding.probability)} ≤ ${p.store.lateLanding.maxMs / 1000} s`;
    lines.push(
      `p${p.id} ${p.role}: lease ${p.lease === false ? 'off' : `${p.lease / 1000} s`}, freshness ${p.freshnessMs} ms, retries ${p.retries}, skew ${p.skewMs} ms` +
        `${p.smallCache ? ', small page cache' : ''}${p.noBlockCache ? ', no block cache' : ''}${p.twoConnections ? ', two connections' : ''}; ${faults}; ${store}`,
    );
    p.lives.forEach((life, n) => {
      lines.push(`  life ${n}${life.killAtRequest === undefined ? '' : ` (killed at request ${life.killAtRequest})`}: ${life.ops.map(describeOp).join(', ')}`);
    });
  }
  return lines;
}

export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'insert':
      return op.large ? 'insert-large' : 'insert';
    case 'delete':
      return 'delete';
    case 'increment':
      return `increment c${op.counter}${op.thinkMs > 0 ? ` think ${secs(op.thinkMs)}` : ''}`;
    case 'read':
      return `read${op.thinkMs > 0 ? ` think ${secs(op.thinkMs)}` : ''}`;
    case 'idle':
      return `idle ${secs(op.ms)}`;
    case 'overlap':
      return `overlap (read think ${secs(op.thinkMs)} beside ${op.write})`;
    case 'restore':
      return op.via === 'import' ? `restore ${op.back} back by export and import` : `restore ${op.back} back`;
    default:
      return op.kind;
  }
}

function pct(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
