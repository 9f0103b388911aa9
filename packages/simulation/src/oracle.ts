import type { Finding, GuaranteeId } from './guarantees.js';
import { invariantProblems, opIds, type DbState, type WriteKind } from './schema.js';

/**
 * The SQL-level half of the oracle: it knows every op ever started and what its caller
 * was told, and judges every state a process reads against that.
 *
 * An op's outcome is one of:
 * - `acked`: the transaction resolved; it must be in every later fresh read and in the
 *   history from the commit version() named then on;
 * - `failed`: certainly not applied (SQLITE_BUSY or precondition-failed at commit, or an
 *   error before COMMIT was reached); it must never appear;
 * - `unknown`: any other error (the store's answer lost, the process killed): it may
 *   appear, but whole (the state invariants check that), and it may appear late.
 *
 * Ordering uses a logical clock (`tick`), bumped at every issue and acknowledgement, so
 * that "acknowledged before the read was issued" does not depend on virtual-time ties.
 */

export type Outcome = 'pending' | 'acked' | 'failed' | 'unknown';

export interface OpInfo {
  op: number;
  kind: WriteKind;
  process: string;
  issued: number;
  outcome: Outcome;
  /** Tick of the acknowledgement. */
  acked?: number;
  /** Virtual ms (since the run started) of the acknowledgement. */
  ackedAt?: number;
  /** The commit version() reported right after the acknowledgement. */
  commit?: number;
  error?: string;
}

/** When a read was issued: the logical tick (for "acknowledged before") and the virtual ms (for bounded staleness). */
export interface Issue {
  tick: number;
  at: number;
}

export interface ReadInfo {
  process: string;
  issued: number;
  /** Virtual ms since the run started. */
  at: number;
  ops: number[];
}

/** A garbage collection started: its horizon, and the commit in force there when it started (for the report). */
export interface GcInfo {
  horizon: number;
  horizonCommit: number;
}

/**
 * A restore (restoreCommit): the state of commit `from` (its ops) brought back as a new
 * commit, which removes every op committed after `from` and before it.
 */
export interface RestoreInfo {
  process: string;
  /** What brought it back: restoreCommit, or an export of the commit imported over the database. */
  via: 'restoreCommit' | 'import';
  from: number;
  ops: Set<number>;
  /** Tick of its start, and of its outcome. */
  begun: number;
  settled?: number;
  /**
   * The commit that holds it; 'nothing' (the state was that already), 'refused' (not
   * applied), 'unknown' (it may have landed, at a commit not known), or pending.
   */
  outcome?: number | 'nothing' | 'refused' | 'unknown';
}

/** What a process has seen: its reads must never go back. */
interface ProcessView {
  seen: number[];
  own: Set<number>;
}

export class Oracle {
  readonly ops = new Map<number, OpInfo>();
  readonly reads: ReadInfo[] = [];
  readonly collections: GcInfo[] = [];
  readonly restores: RestoreInfo[] = [];
  /** States seen by time travel during the run, by commit (the final time travel must agree). */
  readonly history: Array<{ seq: number; ops: number[]; at: number }> = [];
  readonly findings: Finding[] = [];
  readonly #views = new Map<string, ProcessView>();
  #tick = 0;
  #nextOp = 1;
  readonly #now: () => number;
  readonly #line: (text: string) => void;
  /** Findings beyond this many are dropped (one bug tends to repeat itself). */
  readonly #maxFindings: number;

  readonly #onFinding: () => void;

  constructor(now: () => number, line: (text: string) => void, onFinding: () => void = () => undefined, maxFindings = 25) {
    this.#now = now;
    this.#line = line;
    this.#onFinding = onFinding;
    this.#maxFindings = maxFindings;
  }

  tick(): number {
    return ++this.#tick;
  }

  /** Marks the issue of a read (or a check's open). */
  issue(): Issue {
    return { tick: this.tick(), at: this.#now() };
  }

  finding(guarantee: GuaranteeId, message: string): void {
    this.#line(`FINDING [${guarantee}] ${message}`);
    this.#onFinding();
    if (this.findings.length < this.#maxFindings) this.findings.push({ guarantee, message, at: this.#now() });
  }

  begin(process: string, kind: WriteKind): OpInfo {
    const info: OpInfo = { op: this.#nextOp++, kind, process, issued: this.tick(), outcome: 'pending' };
    this.ops.set(info.op, info);
    this.#line(`${process} op ${info.op} ${kind} begins`);
    return info;
  }

  acked(info: OpInfo, commit: number | undefined): void {
    info.outcome = 'acked';
    info.acked = this.tick();
    info.ackedAt = this.#now();
    if (commit !== undefined) info.commit = commit;
    this.#view(info.process).own.add(info.op);
    this.#line(`${info.process} op ${info.op} acked (commit ${commit ?? '?'})`);
  }

  failed(info: OpInfo, why: string): void {
    info.outcome = 'failed';
    info.error = why;
    this.#line(`${info.process} op ${info.op} failed: ${why}`);
  }

  unknown(info: OpInfo, why: string): void {
    info.outcome = 'unknown';
    info.error = why;
    this.#line(`${info.process} op ${info.op} unknown: ${why}`);
  }

  beginRestore(process: string, from: number, ops: Set<number>, via: RestoreInfo['via']): RestoreInfo {
    const restore: RestoreInfo = { process, via, from, ops, begun: this.tick() };
    this.restores.push(restore);
    this.#line(`${process} restore of commit ${from} (${ops.size} ops${via === 'import' ? ', by import' : ''}) begins`);
    return restore;
  }

  restoreSettled(restore: RestoreInfo, outcome: NonNullable<RestoreInfo['outcome']>): void {
    restore.outcome = outcome;
    restore.settled = this.tick();
    const how = restore.via === 'import' ? ' by import' : '';
    this.#line(`${restore.process} restore of commit ${restore.from}${how}: ${typeof outcome === 'number' ? `commit ${outcome}` : outcome}`);
  }

  /**
   * Whether a restore may have removed op `info` by commit `seq` (by the newest commit
   * when undefined): it is not in the restored state, it began before the restore
   * settled (or the restore is still in flight), and, where both commits are known, it
   * was committed before the restore's.
   */
  mayBeRemoved(info: OpInfo, seq?: number): boolean {
    return this.restores.some((r) => {
      if (r.outcome === 'refused' || r.outcome === 'nothing' || r.ops.has(info.op)) return false;
      if (r.settled !== undefined && info.issued > r.settled) return false;
      if (typeof r.outcome !== 'number') return true;
      if (seq !== undefined && r.outcome > seq) return false;
      return info.commit === undefined || info.commit < r.outcome;
    });
  }

  /** Whether a restore may have made a commit after `after`, up to `upTo`: a commit there may remove ops (and bring back older ones). */
  restoreWithin(after: number, upTo: number): boolean {
    return this.restores.some(
      (r) => r.outcome !== 'refused' && r.outcome !== 'nothing' && (typeof r.outcome !== 'number' || (after < r.outcome && r.outcome <= upTo)),
    );
  }

  /**
   * Whether op `info` must be absent from a state read at tick `tick`: the newest restore
   * (by commit) acknowledged before then removed it (its commit came before the
   * restore's, and the restored state lacks it), and no other restore that might bring
   * it back (one in flight, of unknown outcome, or settled since) exists.
   */
  certainlyRemoved(info: OpInfo, tick: number): boolean {
    if (info.outcome !== 'acked' || info.commit === undefined) return false;
    let newest: RestoreInfo | undefined;
    for (const r of this.restores) {
      if (r.outcome === 'refused' || r.outcome === 'nothing') continue;
      if (typeof r.outcome !== 'number' || (r.settled as number) >= tick) return false;
      if (!newest || r.outcome > (newest.outcome as number)) newest = r;
    }
    return newest !== undefined && !newest.ops.has(info.op) && info.commit < (newest.outcome as number);
  }

  /**
   * Judges a state read by `process` in a read transaction issued at `issued`:
   * invariants, no certainly-failed op, monotonic per process, and, when the process
   * promises a bounded staleness, every op acknowledged long enough before the issue:
   * with freshness 0 every op acknowledged before it, with freshness F every op
   * acknowledged more than F ms before it (its view was confirmed within F ms).
   * `staleness` is undefined for a process that promises none (a lease holder skips
   * looking for other writers, a connection joining another's snapshot shares it).
   */
  observe(process: string, state: DbState, issued: Issue, options: { staleness: number | undefined; what: string }): void {
    const ids = opIds(state);
    this.reads.push({ process, issued: issued.tick, at: this.#now(), ops: ids });
    this.checkState(state, `${options.what} by ${process}`);
    const view = this.#view(process);
    // Ops a restore removed are gone, not lost.
    const removed = (op: number): boolean => {
      const info = this.ops.get(op);
      return info !== undefined && this.mayBeRemoved(info);
    };
    const missingSeen = view.seen.filter((op) => !state.ops.has(op) && !removed(op));
    if (missingSeen.length > 0)
      this.finding('monotonic', `${options.what} by ${process} went back: ops ${list(missingSeen)}, seen by its earlier read, are gone`);
    const missingOwn = [...view.own].filter((op) => !state.ops.has(op) && !removed(op));
    if (missingOwn.length > 0) this.finding('monotonic', `${options.what} by ${process} lacks its own acknowledged ops ${list(missingOwn)}`);
    view.seen = ids;
    if (options.staleness !== undefined) this.checkContainsAcked(state, issued, `${options.what} by ${process}`, options.staleness);
  }

  /** Every op acknowledged before `issued` (more than `staleness` ms before, if given) must be in `state`. */
  checkContainsAcked(state: DbState, issued: Issue, what: string, staleness = 0): void {
    const missing: number[] = [];
    const back: number[] = [];
    for (const info of this.ops.values()) {
      // A fresh read after a restore was acknowledged never sees what it removed.
      if (staleness === 0 && state.ops.has(info.op) && this.certainlyRemoved(info, issued.tick)) back.push(info.op);
      if (info.outcome !== 'acked' || state.ops.has(info.op) || this.mayBeRemoved(info)) continue;
      const before = staleness === 0 ? (info.acked as number) < issued.tick : (info.ackedAt as number) < issued.at - staleness;
      if (before) missing.push(info.op);
    }
    if (missing.length > 0) {
      const detail = missing.map(
        (op) => `${op} (${this.ops.get(op)?.process}, commit ${this.ops.get(op)?.commit ?? '?'}, acknowledged at ${this.ops.get(op)?.ackedAt} ms)`,
      );
      const when = staleness === 0 ? 'before it began' : `more than its freshness of ${staleness} ms before it began (at ${issued.at} ms)`;
      this.finding(what.startsWith('read') ? 'fresh' : 'durable', `${what} lacks ops acknowledged ${when}: ${list(detail)}`);
    }
    if (back.length > 0) this.finding('durable', `${what} holds ops ${list(back)}, which a restore acknowledged before it began had removed`);
  }

  /** The checks every state gets: invariants, and no op that certainly failed. */
  checkState(state: DbState, what: string): void {
    for (const problem of invariantProblems(state)) this.finding(problem.guarantee, `${what}: ${problem.message}`);
    const applied = [...state.ops.keys()].filter((op) => this.ops.get(op)?.outcome === 'failed');
    if (applied.length > 0) {
      const detail = applied.map((op) => `${op} (${this.ops.get(op)?.process}: ${this.ops.get(op)?.error})`);
      this.finding('notApplied', `${what} holds ops whose commit certainly failed: ${list(detail)}`);
    }
    const strangers = [...state.ops.keys()].filter((op) => !this.ops.has(op));
    if (strangers.length > 0) this.finding('allOrNothing', `${what} holds ops nobody started: ${list(strangers)}`);
  }

  #view(process: string): ProcessView {
    let view = this.#views.get(process);
    if (!view) {
      view = { seen: [], own: new Set() };
      this.#views.set(process, view);
    }
    return view;
  }

  /** Counts per outcome (for the report). */
  outcomes(): Record<Outcome, number> {
    const counts: Record<Outcome, number> = { pending: 0, acked: 0, failed: 0, unknown: 0 };
    for (const info of this.ops.values()) counts[info.outcome] += 1;
    return counts;
  }
}

export function list(items: ReadonlyArray<string | number>, max = 8): string {
  return items.length > max ? `${items.slice(0, max).join(', ')} … (${items.length})` : items.join(', ');
}
