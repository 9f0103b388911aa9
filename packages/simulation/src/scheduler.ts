import type { Clock } from '@blockvfs/core';

/**
 * Virtual time and the one event loop of a simulation run.
 *
 * Everything that takes time in the simulated world (a store request's effect and its
 * answer, a clock's sleep, a process kill) is an event at a virtual time. The loop lets
 * every JavaScript continuation that can run do so (microtasks settle), then pops the
 * earliest event, moves the clock to its time and runs it. No real time passes: a run of
 * an hour of virtual time takes as long as its computation. Events at the same time run
 * in the order they were scheduled, so a run depends only on its seed.
 */

export interface EventHandle {
  /** The event will not run (if it has not yet). */
  cancel(): void;
  readonly at: number;
}

interface QueuedEvent {
  at: number;
  order: number;
  run: () => void;
  cancelled: boolean;
}

export interface RunLimits {
  /** Events before the run is declared stuck in a loop (a livelock: e.g. retries that never end). */
  maxEvents: number;
  /** Real milliseconds before the run is abandoned (a hang of the computation itself). */
  maxWallMs: number;
}

/** The run ended without its main task finishing: some promise will never settle. */
export class StuckError extends Error {
  override readonly name = 'StuckError';
}

export class Scheduler {
  #now: number;
  #order = 0;
  readonly #heap: QueuedEvent[] = [];
  /** Events run so far. */
  events = 0;

  constructor(start: number) {
    this.#now = start;
  }

  /** The virtual time, in ms since the epoch (an integer). */
  get now(): number {
    return this.#now;
  }

  /** Events waiting (cancelled ones included until they surface). */
  get pending(): number {
    return this.#heap.length;
  }

  /** Runs `run` at virtual time `at` (not before now). */
  at(at: number, run: () => void): EventHandle {
    const event: QueuedEvent = { at: Math.max(this.#now, Math.ceil(at)), order: this.#order++, run, cancelled: false };
    push(this.#heap, event);
    return {
      at: event.at,
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  /** Runs `run` after `delay` virtual ms. */
  after(delay: number, run: () => void): EventHandle {
    return this.at(this.#now + Math.max(0, delay), run);
  }

  /** A promise resolved after `delay` virtual ms. */
  sleep(delay: number): Promise<void> {
    if (!(delay > 0)) return Promise.resolve();
    return new Promise((resolve) => this.after(delay, resolve));
  }

  /**
   * Runs `main` to completion in virtual time and returns its result. Throws StuckError
   * when no event is left while `main` has not settled (a promise nobody will ever
   * settle: a lost request, a deadlock), or when a limit is passed.
   */
  async run<T>(main: () => Promise<T>, limits: RunLimits): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    main().then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    const wallStart = performance.now();
    for (;;) {
      await settle();
      if (outcome) {
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      }
      const event = pop(this.#heap);
      if (!event) throw new StuckError(`nothing left to happen at virtual time ${this.#now}, yet the run has not finished: a promise that never settles`);
      if (event.cancelled) continue;
      this.#now = Math.max(this.#now, event.at);
      this.events += 1;
      if (this.events > limits.maxEvents) throw new StuckError(`more than ${limits.maxEvents} events: the run does not converge (a livelock?)`);
      if (this.events % 1024 === 0 && performance.now() - wallStart > limits.maxWallMs) {
        throw new StuckError(`more than ${limits.maxWallMs} ms of real time`);
      }
      event.run();
    }
  }
}

/**
 * Lets every continuation that is ready run: a macrotask turn comes only after the
 * microtask queue is empty, so once setImmediate fires, every promise chain the last
 * event started has advanced as far as it can without another event.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A process's clock: the scheduler's virtual time plus the process's skew (machines'
 * clocks disagree a little; the format must cope with skew well under its grace period).
 */
export class SimClock implements Clock {
  readonly #scheduler: Scheduler;
  readonly skew: number;

  constructor(scheduler: Scheduler, skew = 0) {
    this.#scheduler = scheduler;
    this.skew = Math.round(skew);
  }

  now(): number {
    return this.#scheduler.now + this.skew;
  }

  sleep(ms: number): Promise<void> {
    return this.#scheduler.sleep(Math.ceil(ms));
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

function push(heap: QueuedEvent[], event: QueuedEvent): void {
  heap.push(event);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i] as QueuedEvent, heap[parent] as QueuedEvent)) break;
    [heap[i], heap[parent]] = [heap[parent] as QueuedEvent, heap[i] as QueuedEvent];
    i = parent;
  }
}

function pop(heap: QueuedEvent[]): QueuedEvent | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let smallest = i;
    if (left < heap.length && before(heap[left] as QueuedEvent, heap[smallest] as QueuedEvent)) smallest = left;
    if (right < heap.length && before(heap[right] as QueuedEvent, heap[smallest] as QueuedEvent)) smallest = right;
    if (smallest === i) break;
    [heap[i], heap[smallest]] = [heap[smallest] as QueuedEvent, heap[i] as QueuedEvent];
    i = smallest;
  }
  return top;
}
