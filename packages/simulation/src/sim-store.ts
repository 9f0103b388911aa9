import { BlockVfsError, type BlockStore } from '@blockvfs/core';
import {
  keyProblem,
  rangeProblem,
  type ByteRange,
  type ListEntry,
  type ListOptions,
  type PutCondition,
  type PutResult,
  type StoreCapabilities,
} from '@blockvfs/core/store';
import type { Random } from './random.js';
import type { EventHandle, Scheduler } from './scheduler.js';
import type { SimObjects } from './sim-objects.js';
import type { Trace } from './trace.js';

/**
 * One simulated process's view of the bucket: a BlockStore whose every request is a pair
 * of scheduler events, the moment it takes effect on the shared objects and the moment
 * its answer reaches the caller, with a fate drawn from the seed:
 *
 * - `ok`: takes effect after a random latency, answers after another;
 * - `fail-before`: answers `transient` and never takes effect (it never reached the store);
 * - `fail-after`: takes effect, then answers `transient` (a timeout after the fact: the
 *   caller cannot tell it from `fail-before`);
 * - `hang`: answers only after seconds to minutes: late success, or a `transient` timeout
 *   while the request takes effect before the answer, after it ("lands later"), or never.
 *
 * Latencies are drawn per request, so concurrent requests complete in an order the seed
 * picks, not the order they were sent. Listings are answered a page at a time (small
 * pages, each a request of its own), so other writes land between pages.
 *
 * `kill()` is the process dying: every pending request rejects at once on the JS side
 * (so the code in flight unwinds), requests that had not yet taken effect land later or
 * never, and every later request fails at once.
 */

export type StoreOp = 'get' | 'put' | 'delete' | 'list';
export const STORE_OPS: readonly StoreOp[] = ['get', 'put', 'delete', 'list'];

export interface FaultProfile {
  /** Per request, the probability of each faulty fate (the rest succeed). */
  failBefore: number;
  failAfter: number;
  hang: number;
  /** The requests that may fault. */
  ops: readonly StoreOp[];
}

export const NO_FAULTS: FaultProfile = Object.freeze({ failBefore: 0, failAfter: 0, hang: 0, ops: [] });

export interface StoreProfile {
  faults: FaultProfile;
  /** One leg of a request (to the effect, or from it to the answer), virtual ms. */
  latency: { min: number; max: number };
  /** A hang's length, virtual ms. */
  hangMs: { min: number; max: number };
  /** Entries per listing page. */
  listPageSize: number;
  maxDeleteBatch: number;
  /** When a request's answer is lost or its process dies before it took effect: the chance it still lands, and how late at most. */
  lateLanding: { probability: number; maxMs: number };
}

/** Ways to break the store on purpose, to prove the oracle sees what it claims to (never used by a normal run). */
export type StoreMutation =
  /** A commit record's put is acknowledged but never stored (every third one). */
  | 'ack-without-record'
  /** A get of a commit record or of the head sometimes serves the version before the latest (for a record: none). */
  | 'stale-read'
  /** A create-if-absent put of a commit record overwrites an existing one. */
  | 'ignore-create-condition';

export interface SimStoreOptions {
  /** Names the process in traces and errors, e.g. `p1.0` (process 1, life 0). */
  process: string;
  objects: SimObjects;
  scheduler: Scheduler;
  random: Random;
  trace: Trace;
  /** Virtual time the run started (trace times are relative to it). */
  epoch: number;
  profile: StoreProfile;
  mutation?: StoreMutation | undefined;
  /** Called with each request's 1-based index as it is sent (to kill a process at its Nth request). */
  onRequest?: (index: number) => void;
}

type Fate = 'ok' | 'fail-before' | 'fail-after' | 'hang';

interface Pending {
  what: string;
  /** Rejects the caller's promise (the answer never comes). */
  reject: (error: unknown) => void;
  effect: EventHandle | undefined;
  /** Applies the effect (when it has not happened yet), for a late landing after a kill. */
  land: (() => void) | undefined;
  answer: EventHandle | undefined;
}

const SOURCE = '@blockvfs/simulation';

export class SimStore implements BlockStore {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  readonly #o: SimStoreOptions;
  readonly #pending = new Set<Pending>();
  #killed = false;
  /** Requests sent so far. */
  requests = 0;
  /** Faulty fates drawn so far. */
  faults = 0;

  constructor(options: SimStoreOptions) {
    this.#o = options;
    this.name = `sim:${options.process}`;
    this.capabilities = { conditionalPut: true, rangeGet: true, maxDeleteBatch: options.profile.maxDeleteBatch };
  }

  get killed(): boolean {
    return this.#killed;
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const problem = keyProblem(key) ?? (range ? rangeProblem(range) : undefined);
    if (problem) return Promise.reject(this.#error('invalid', problem));
    const { mutation, objects } = this.#o;
    return this.#request('get', key, () => {
      if (mutation === 'stale-read' && (key.endsWith('/head') || key.includes('/log/')) && objects.has(key) && this.#o.random.chance(0.3)) {
        const old = objects.previous(key);
        return old && (range ? old.slice(range.offset, range.length === undefined ? undefined : range.offset + range.length) : old.slice());
      }
      return objects.get(key, range);
    });
  }

  put(key: string, data: Uint8Array, condition?: PutCondition): Promise<PutResult> {
    const problem = keyProblem(key);
    if (problem) return Promise.reject(this.#error('invalid', problem));
    const copy = data.slice(); // the caller may reuse its buffer once the call returns
    const { mutation, objects } = this.#o;
    const isRecord = key.includes('/log/');
    const issuedAt = this.#o.scheduler.now; // a put that lands late is told apart by the monitor
    return this.#request('put', key, () => {
      if (mutation === 'ack-without-record' && isRecord && this.#o.random.chance(1 / 3)) return { etag: 'dropped' };
      if (mutation === 'ignore-create-condition' && isRecord && condition && 'ifNoneMatch' in condition) return objects.write(key, copy);
      return objects.put(key, copy, condition, this.name, issuedAt);
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const problem = keyProblem(key);
      if (problem) throw this.#error('invalid', problem);
    }
    if (keys.length === 0) return;
    const batch = Math.max(1, this.capabilities.maxDeleteBatch);
    // Batches one after the other, as a provider's client sends them; a failed batch stops the rest.
    for (let start = 0; start < keys.length; start += batch) {
      const part = keys.slice(start, start + batch);
      await this.#request(
        'delete',
        part.length === 1 ? (part[0] as string) : `${part[0]} +${part.length - 1}`,
        () => {
          for (const key of part) this.#o.objects.delete(key);
        },
        // A batch whose answer is lost may have deleted only some of its keys (DeleteObjects is not atomic).
        () => {
          const done = this.#o.random.int(1, part.length);
          for (const key of part.slice(0, done)) this.#o.objects.delete(key);
        },
      );
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    if (prefix !== '') {
      const problem = keyProblem(prefix);
      if (problem) throw this.#error('invalid', problem);
    }
    let startAfter = options.startAfter;
    const size = this.#o.profile.listPageSize;
    for (;;) {
      const after = startAfter;
      const page = await this.#request('list', `${prefix}${after === undefined ? '' : ` after ${after}`}`, () => this.#o.objects.listPage(prefix, after, size));
      for (const entry of page) {
        startAfter = entry.key;
        yield entry;
      }
      if (page.length < size) return;
    }
  }

  /** The process died: see the class comment. */
  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#line('killed');
    for (const pending of this.#pending) {
      pending.answer?.cancel();
      if (pending.effect && pending.land) {
        pending.effect.cancel();
        this.#maybeLandLater(pending.what, pending.land);
      }
      pending.reject(this.#error('transient', `the process died during ${pending.what}`));
    }
    this.#pending.clear();
  }

  /**
   * One request: `effect` is applied at the effect event (its result, or the error it
   * throws, is what an `ok` answer carries); `partial` replaces it for a `fail-after`
   * whose effect may be partial (deletes).
   */
  #request<T>(op: StoreOp, what: string, effect: () => T, partial?: () => void): Promise<T> {
    const label = `${op} ${this.#short(what)}`;
    if (this.#killed) return Promise.reject(this.#error('transient', `the process is dead (${label})`));
    this.requests += 1;
    this.#o.onRequest?.(this.requests);
    if (this.#killed) return Promise.reject(this.#error('transient', `the process died before ${label}`));
    const fate = this.#fate(op);
    const { scheduler, random, profile } = this.#o;
    const leg = (): number => random.int(profile.latency.min, profile.latency.max);
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { what: label, reject, effect: undefined, land: undefined, answer: undefined };
      this.#pending.add(pending);
      const settle = (outcome: { value: T } | { error: unknown }, text: string): void => {
        this.#pending.delete(pending);
        this.#line(`<- ${label}: ${text}`);
        if ('value' in outcome) resolve(outcome.value);
        else reject(outcome.error);
      };
      const answerAt = (delay: number, outcome: () => { value: T } | { error: unknown }, text: () => string): void => {
        pending.answer = scheduler.after(delay, () => settle(outcome(), text()));
      };
      /** Runs the effect now; returns what an `ok` answer carries. */
      const apply = (run: () => unknown): { value: T } | { error: unknown } => {
        pending.effect = undefined;
        pending.land = undefined;
        try {
          const value = run() as T;
          this.#line(`=> ${label}${describe(value)}`);
          return { value };
        } catch (error) {
          this.#line(`=> ${label}: ${errorText(error)}`);
          return { error };
        }
      };
      const lost = (): { error: unknown } => ({ error: this.#error('transient', `${label}: the answer was lost (timeout)`) });
      const scheduleEffect = (delay: number, run: () => unknown, then: (result: { value: T } | { error: unknown }) => void): void => {
        pending.land = () => apply(run);
        pending.effect = scheduler.after(delay, () => then(apply(run)));
      };

      switch (fate) {
        case 'ok':
          scheduleEffect(leg(), effect, (result) =>
            answerAt(
              leg(),
              () => result,
              () => ('value' in result ? 'ok' : errorText(result.error)),
            ),
          );
          break;
        case 'fail-before':
          answerAt(
            leg(),
            () => ({ error: this.#error('transient', `${label}: injected failure before the request took effect`) }),
            () => 'failed before',
          );
          break;
        case 'fail-after':
          scheduleEffect(leg(), partial ?? effect, () => answerAt(leg(), lost, () => 'answer lost'));
          break;
        case 'hang': {
          const start = scheduler.now;
          const hang = random.int(profile.hangMs.min, profile.hangMs.max);
          const when = random.float();
          const slowSuccess = random.chance(0.5);
          if (when < 0.6) {
            // Takes effect during the hang; the answer, at its end, is the result or a timeout.
            scheduleEffect(random.int(profile.latency.min, hang), effect, (result) =>
              answerAt(
                start + hang - scheduler.now,
                () => (slowSuccess ? result : lost()),
                () => (slowSuccess ? 'late answer' : 'timed out'),
              ),
            );
          } else {
            // Times out first; the request lands after that, or never.
            answerAt(hang, lost, () => 'timed out');
            if (when < 0.8) this.#maybeLandLater(label, () => apply(effect), hang);
            else this.#line(`x ${label}: never lands`);
          }
          break;
        }
      }
    });
  }

  /** Applies `land` at a random later time (after at least `after` ms), or never. */
  #maybeLandLater(label: string, land: () => void, after = 0): void {
    const { random, scheduler, profile } = this.#o;
    if (!random.chance(profile.lateLanding.probability)) {
      this.#line(`x ${label}: never lands`);
      return;
    }
    scheduler.after(after + random.int(1, Math.max(1, profile.lateLanding.maxMs)), () => {
      this.#line(`late ${label}`);
      land();
    });
  }

  #fate(op: StoreOp): Fate {
    const { faults } = this.#o.profile;
    const draw = this.#o.random.float(); // drawn for every request, so that switching faults off keeps later draws in place
    if (!faults.ops.includes(op)) return 'ok';
    let fate: Fate = 'ok';
    if (draw < faults.failBefore) fate = 'fail-before';
    else if (draw < faults.failBefore + faults.failAfter) fate = 'fail-after';
    else if (draw < faults.failBefore + faults.failAfter + faults.hang) fate = 'hang';
    if (fate !== 'ok') this.faults += 1;
    return fate;
  }

  #error(kind: 'transient' | 'invalid', message: string): BlockVfsError {
    return new BlockVfsError(kind, message, { source: SOURCE, store: this.name });
  }

  #line(text: string): void {
    const { trace, scheduler, epoch, process } = this.#o;
    trace.line(scheduler.now - epoch, `${process} ${text}`);
  }

  /** Keys without the database name, to keep trace lines short. */
  #short(what: string): string {
    const slash = what.indexOf('/');
    return slash > 0 ? what.slice(slash + 1) : what;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return ': none';
  if (value instanceof Uint8Array) return `: ${value.length} B`;
  if (Array.isArray(value)) return `: ${value.length} keys`;
  return '';
}

function errorText(error: unknown): string {
  if (error instanceof BlockVfsError) return error.kind;
  return error instanceof Error ? error.message : String(error);
}
