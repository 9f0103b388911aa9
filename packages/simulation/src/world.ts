import type { Database } from '@blockvfs/vfs-wasqlite';
import type { FormatMonitor } from './format-monitor.js';
import type { Oracle } from './oracle.js';
import type { Random } from './random.js';
import { SimClock, type Scheduler } from './scheduler.js';
import type { SimObjects } from './sim-objects.js';
import { NO_FAULTS, SimStore, type StoreMutation, type StoreProfile } from './sim-store.js';
import type { Swarm } from './swarm.js';
import type { Trace } from './trace.js';

/** Everything a simulated process or check shares with the others in one run. */
export class World {
  readonly name = 'sim.db';
  readonly scheduler: Scheduler;
  readonly objects: SimObjects;
  readonly trace: Trace;
  readonly oracle: Oracle;
  readonly monitor: FormatMonitor;
  readonly swarm: Swarm;
  readonly random: Random;
  readonly epoch: number;
  readonly mutation: StoreMutation | undefined;
  /** Every Database opened in the run: each is closed at its end (wasm memory is shared by all seeds). */
  readonly databases = new Set<Database>();
  /** Every store object: killed at the end, so that nothing of the run can still be waiting. */
  readonly stores = new Set<SimStore>();
  /** Collections running now, each with whether another ran beside it (two collectors race: one may fail, see process.ts). */
  readonly collecting = new Set<{ overlapped: boolean }>();
  /** Ops finished so far, over all processes (clean checks run after chosen counts). */
  opsDone = 0;
  /** Clean checks started (awaited before the final one). */
  readonly checks: Promise<void>[] = [];
  onOpDone: () => void = () => undefined;

  constructor(init: {
    scheduler: Scheduler;
    objects: SimObjects;
    trace: Trace;
    oracle: Oracle;
    monitor: FormatMonitor;
    swarm: Swarm;
    random: Random;
    epoch: number;
    mutation: StoreMutation | undefined;
  }) {
    this.scheduler = init.scheduler;
    this.objects = init.objects;
    this.trace = init.trace;
    this.oracle = init.oracle;
    this.monitor = init.monitor;
    this.swarm = init.swarm;
    this.random = init.random;
    this.epoch = init.epoch;
    this.mutation = init.mutation;
  }

  /** Virtual ms since the run started. */
  get elapsed(): number {
    return this.scheduler.now - this.epoch;
  }

  line(text: string): void {
    this.trace.line(this.elapsed, text);
  }

  /** A store object for process `label`: a new "process" as the VFS sees it. */
  store(label: string, profile: StoreProfile, onRequest?: (index: number) => void, mutation = this.mutation): SimStore {
    const store = new SimStore({
      process: label,
      objects: this.objects,
      scheduler: this.scheduler,
      random: this.random.fork(`store ${label}`),
      trace: this.trace,
      epoch: this.epoch,
      profile,
      mutation,
      ...(onRequest ? { onRequest } : {}),
    });
    this.stores.add(store);
    return store;
  }

  /** A store without faults (and with the store mutations off: the checker sees the truth), for clean checks. */
  cleanStore(label: string): { store: SimStore; clock: SimClock } {
    const profile: StoreProfile = {
      faults: NO_FAULTS,
      latency: { min: 1, max: 5 },
      hangMs: { min: 1, max: 1 },
      listPageSize: 1000,
      maxDeleteBatch: 1000,
      lateLanding: { probability: 0, maxMs: 1 },
    };
    return { store: this.store(label, profile, undefined, this.mutation === 'stale-read' ? undefined : this.mutation), clock: new SimClock(this.scheduler) };
  }
}
