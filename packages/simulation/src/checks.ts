import { BlockVfsError } from '@blockvfs/core';
import { SqliteError, openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import { describeError } from './errors.js';
import { list, type Issue } from './oracle.js';
import { bodyOf, opIds, readState, type DbState } from './schema.js';
import type { SimClock } from './scheduler.js';
import type { SimStore } from './sim-store.js';
import type { World } from './world.js';

/**
 * Clean checks: a process with a store that never fails opens the database, as a new
 * process would, and judges what it finds. Run at chosen points of a run (beside the
 * others, which keep going) and at its end, where time travel to the kept commits checks
 * the whole history.
 */

interface Opened {
  db: Database;
  store: SimStore;
  clock: SimClock;
}

async function openClean(world: World, label: string): Promise<Opened | undefined> {
  const { store, clock } = world.cleanStore(label);
  try {
    const db = await openDatabase({ store, name: world.name, clock });
    world.databases.add(db);
    return { db, store, clock };
  } catch (error) {
    world.oracle.finding('sqlite', `a clean process (${label}) cannot open the database: ${describeError(error)}`);
    return undefined;
  }
}

/** integrity_check, then the whole state in one read transaction; every op acknowledged before the open must be there. */
async function checkOpened(world: World, opened: Opened, label: string, issued: Issue): Promise<DbState | undefined> {
  const { oracle } = world;
  try {
    const integrity = await opened.db.all('PRAGMA integrity_check');
    const verdict = integrity.map((row) => String(row.integrity_check));
    if (verdict.join() !== 'ok') oracle.finding('sqlite', `${label}: integrity_check says ${list(verdict, 4)}`);
    const state = await opened.db.transaction(() => readState(opened.db));
    oracle.checkState(state, label);
    oracle.checkContainsAcked(state, issued, label);
    world.line(`${label}: ${state.ops.size} ops, ok so far`);
    return state;
  } catch (error) {
    oracle.finding('sqlite', `${label}: a clean process fails to read the database: ${describeError(error)}`);
    return undefined;
  }
}

/** A clean check in the middle of a run, and a time travel to a random kept commit beside the running processes. */
export async function midRunCheck(world: World, n: number): Promise<void> {
  const label = `check${n}`;
  const issued = world.oracle.issue();
  world.line(`${label} begins`);
  const opened = await openClean(world, label);
  if (!opened) return;
  await checkOpened(world, opened, `clean check ${n}`, issued);
  await opened.db.close().catch((error: unknown) => world.oracle.finding('sqlite', `${label}: close fails: ${describeError(error)}`));
  await midRunTimeTravel(world, n);
}

/**
 * Opens a kept commit as of its number while writers and collectors go on, and keeps
 * what it saw: the final check's time travel must find the same state at that commit.
 * A collection running meanwhile may make the commit unkeepable (not-found, or a block
 * gone mid-read once the commit falls behind the oldest kept): only then is an error fine.
 */
async function midRunTimeTravel(world: World, n: number): Promise<void> {
  const { monitor, oracle } = world;
  const first = Math.max(1, monitor.head()?.oldest ?? 0);
  if (monitor.latest < first) return;
  const seq = world.random.fork(`time travel ${n}`).int(first, monitor.latest);
  const { store, clock } = world.cleanStore(`check${n}.asof`);
  let db: Database | undefined;
  try {
    db = await openDatabase({ store, name: world.name, clock, readOnly: true, asOf: seq });
    world.databases.add(db);
    const version = await db.version();
    const state = await db.transaction(() => readState(db as Database));
    if (version?.commit !== seq) oracle.finding('timeTravel', `time travel to commit ${seq} mid-run opened commit ${version?.commit}`);
    oracle.checkState(state, `mid-run time travel to commit ${seq}`);
    oracle.history.push({ seq, ops: opIds(state), at: world.elapsed });
    world.line(`check${n} time travel to commit ${seq}: ${state.ops.size} ops`);
  } catch (error) {
    const cause = error instanceof SqliteError ? error.cause : error;
    const collected = (monitor.head()?.oldest ?? 0) > seq;
    const allowed = cause instanceof BlockVfsError && (cause.kind === 'not-found' || (cause.kind === 'permanent' && collected));
    if (allowed) world.line(`check${n} time travel to commit ${seq}: ${describeError(error)} (collected meanwhile)`);
    else oracle.finding('timeTravel', `time travel to kept commit ${seq} mid-run fails: ${describeError(error)}`);
  } finally {
    await db?.close().catch(() => undefined);
  }
}

/**
 * The end of a run: a clean check, time travel through the kept history, every read of
 * the run matched to one commit of it, and one more commit.
 */
export async function finalCheck(world: World): Promise<void> {
  const { oracle, monitor } = world;
  const issued = oracle.issue();
  world.line('final check begins');
  const opened = await openClean(world, 'final');
  if (!opened) return;
  const state = await checkOpened(world, opened, 'final check', issued);
  const latest = (await opened.db.version().catch(() => undefined))?.commit ?? 0;
  if (latest !== monitor.latest) {
    oracle.finding('durable', `a fresh open reaches commit ${latest}, but records up to ${monitor.latest} were created`);
  }
  if (state) {
    for (const info of oracle.ops.values()) {
      if (info.outcome === 'acked' && !state.ops.has(info.op) && !oracle.mayBeRemoved(info))
        oracle.finding('durable', `acknowledged op ${info.op} (${info.process}, commit ${info.commit ?? '?'}) is not in the final state`);
    }
  }
  await timeTravel(world, latest);
  await oneMoreCommit(world, opened.db);
  await opened.db.close().catch((error: unknown) => oracle.finding('sqlite', `final: close fails: ${describeError(error)}`));
}

/** The final checker commits once more: the database must still take commits. */
async function oneMoreCommit(world: World, db: Database): Promise<void> {
  const info = world.oracle.begin('final', 'insert-small');
  try {
    await db.transaction(async () => {
      await db.run('INSERT INTO items (id, body) VALUES (?, ?)', [info.op, bodyOf(info.op, 'insert-small')]);
      await db.run('INSERT INTO ops (op, kind, proc) VALUES (?, ?, ?)', [info.op, info.kind, 'final']);
    });
    world.oracle.acked(info, (await db.version())?.commit);
    const after = await db.transaction(() => readState(db, false));
    if (!after.ops.has(info.op)) world.oracle.finding('durable', `the final checker's own commit (op ${info.op}) is not in its next read`);
  } catch (error) {
    world.oracle.failed(info, describeError(error));
    world.oracle.finding('sqlite', `the database does not take a new commit: ${describeError(error)}`);
  }
}

interface Visited {
  seq: number;
  time: number;
  ops: number[];
}

/** Time travel to the kept commits (all of them up to the swarm's limit, a spread sample beyond). */
async function timeTravel(world: World, latest: number): Promise<void> {
  const { oracle, monitor, swarm } = world;
  const oldest = monitor.head()?.oldest ?? 0;
  const first = Math.max(1, oldest);
  if (latest < first) return;
  const span = latest - first + 1;
  const dense = span <= swarm.timeTravelLimit;
  const seqs = dense ? range(first, latest) : spread(first, latest, swarm.timeTravelLimit);
  const { store, clock } = world.cleanStore('timetravel');
  const visited: Visited[] = [];
  const at = async (asOf: number | Date): Promise<{ seq: number; time: number; state: DbState } | undefined> => {
    const db = await openDatabase({ store, name: world.name, clock, readOnly: true, asOf });
    world.databases.add(db);
    try {
      const version = await db.version();
      const state = await db.transaction(() => readState(db));
      return version && { seq: version.commit, time: version.time.getTime(), state };
    } finally {
      await db.close();
    }
  };

  for (const seq of seqs) {
    let found;
    try {
      found = await at(seq);
    } catch (error) {
      oracle.finding('timeTravel', `time travel to kept commit ${seq} (oldest kept ${oldest}, latest ${latest}) fails: ${describeError(error)}`);
      continue;
    }
    if (!found) {
      oracle.finding('timeTravel', `time travel to commit ${seq} shows no commit`);
      continue;
    }
    if (found.seq !== seq) oracle.finding('timeTravel', `time travel to commit ${seq} opened commit ${found.seq}`);
    const recorded = monitor.records.get(seq)?.time;
    if (recorded !== undefined && recorded !== found.time)
      oracle.finding('timeTravel', `commit ${seq}'s time is ${found.time} by version(), ${recorded} in its record`);
    oracle.checkState(found.state, `commit ${seq}`);
    visited.push({ seq, time: found.time, ops: opIds(found.state) });
  }
  world.line(`time travel: ${visited.length} commits of ${first}…${latest}${dense ? '' : ' (sample)'}`);

  // The history: each commit adds at most one op and removes none; times never go back.
  for (let i = 1; i < visited.length; i++) {
    const before = visited[i - 1] as Visited;
    const after = visited[i] as Visited;
    const had = new Set(after.ops);
    const removed = before.ops.filter((op) => !had.has(op));
    const added = after.ops.length - (before.ops.length - removed.length);
    // A restore's commit removes ops, and may bring back some an earlier restore removed.
    if (oracle.restoreWithin(before.seq, after.seq)) {
      if (after.time < before.time) oracle.finding('recordTime', `commit ${after.seq}'s time ${after.time} is before commit ${before.seq}'s ${before.time}`);
      continue;
    }
    if (removed.length > 0) oracle.finding('oneWriter', `commit ${after.seq} lost ops ${list(removed)} that commit ${before.seq} had`);
    if (added > after.seq - before.seq) oracle.finding('oneWriter', `commits ${before.seq}…${after.seq} add ${added} ops: more than one per commit`);
    if (after.time < before.time) oracle.finding('recordTime', `commit ${after.seq}'s time ${after.time} is before commit ${before.seq}'s ${before.time}`);
  }

  // Acknowledged ops appear exactly at the commit version() named; failed ones never.
  const bySeq = new Map(visited.map((v) => [v.seq, new Set(v.ops)]));
  for (const info of oracle.ops.values()) {
    if (info.outcome === 'acked' && info.commit !== undefined) {
      const at = bySeq.get(info.commit);
      if (at && !at.has(info.op))
        oracle.finding('durable', `op ${info.op} (${info.process}) was acknowledged at commit ${info.commit}, which does not hold it`);
      const before = bySeq.get(info.commit - 1);
      if (before?.has(info.op))
        oracle.finding('durable', `op ${info.op} (${info.process}) was acknowledged at commit ${info.commit}, but commit ${info.commit - 1} holds it already`);
      for (const v of visited) {
        if (v.seq > info.commit && !bySeq.get(v.seq)?.has(info.op) && !oracle.mayBeRemoved(info, v.seq)) {
          oracle.finding('durable', `op ${info.op} (${info.process}, acknowledged at commit ${info.commit}) is missing from commit ${v.seq}`);
          break;
        }
      }
    }
  }

  // Mid-run time travel saw what the final one sees at the same commit.
  for (const seen of oracle.history) {
    const now = bySeq.get(seen.seq);
    if (now && (now.size !== seen.ops.length || seen.ops.some((op) => !now.has(op)))) {
      oracle.finding(
        'timeTravel',
        `time travel to commit ${seen.seq} at ${seen.at} ms showed ops [${list(seen.ops, 12)}], at the end [${list(
          [...now].sort((a, b) => a - b),
          12,
        )}]`,
      );
    }
  }

  // Every read of the run saw the state of one commit (ops a restore removed since included).
  const removedOp = (op: number): boolean => {
    const info = oracle.ops.get(op);
    return info !== undefined && oracle.mayBeRemoved(info);
  };
  const states = new Map(visited.map((v) => [v.ops.join(), v.seq]));
  const firstOps = new Set(visited[0]?.ops ?? []);
  for (const read of oracle.reads) {
    if (states.has(read.ops.join())) continue;
    if (dense) {
      // Not a kept commit: it must be an older one, collected since.
      const older = oldest > 1 && read.ops.every((op) => firstOps.has(op) || removedOp(op)) && (read.ops.length < firstOps.size || read.ops.some(removedOp));
      if (!older) oracle.finding('oneCommit', `a read by ${read.process} at ${read.at} ms saw ops [${list(read.ops, 12)}], the state of no commit`);
    } else {
      const last = new Set(visited[visited.length - 1]?.ops);
      const inside = read.ops.every((op) => last.has(op) || removedOp(op));
      if (!inside)
        oracle.finding('oneCommit', `a read by ${read.process} at ${read.at} ms saw ops [${list(read.ops, 12)}], some of which no later commit holds`);
    }
  }

  // Below the oldest kept commit: not found, never another state.
  if (oldest > 1) {
    try {
      const found = await at(oldest - 1);
      oracle.finding('timeTravel', `time travel to commit ${oldest - 1}, before the oldest kept ${oldest}, opened commit ${found?.seq}`);
    } catch (error) {
      const cause = error instanceof SqliteError ? error.cause : error;
      if (!(cause instanceof BlockVfsError && cause.kind === 'not-found')) {
        oracle.finding('timeTravel', `time travel to collected commit ${oldest - 1} fails with ${describeError(error)}, not not-found`);
      }
    }
  }

  // By date: the newest commit at or before a commit's time.
  for (const v of pickSome(visited, 3)) {
    let expected = v.seq;
    for (let seq = v.seq + 1; seq <= latest; seq++) if ((monitor.records.get(seq)?.time ?? Infinity) <= v.time) expected = seq;
    try {
      const found = await at(new Date(v.time));
      if (found?.seq !== expected)
        oracle.finding('timeTravel', `time travel to the date of commit ${v.seq} (${v.time}) opened commit ${found?.seq}, expected ${expected}`);
    } catch (error) {
      oracle.finding('timeTravel', `time travel to the date of commit ${v.seq} fails: ${describeError(error)}`);
    }
  }
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** `count` commits spread over first…last, both ends included. */
function spread(first: number, last: number, count: number): number[] {
  const seqs = new Set<number>();
  for (let i = 0; i < count; i++) seqs.add(Math.round(first + ((last - first) * i) / Math.max(1, count - 1)));
  return [...seqs].sort((a, b) => a - b);
}

function pickSome<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * (items.length - 1)) / Math.max(1, count - 1))] as T);
}
