import type { Database } from '@blockvfs/vfs-wasqlite';
import { Random } from './random.js';

/**
 * The simulated application's database. Every write op is one transaction that records
 * itself in `ops` (its unique id, who ran it, what it saw), so that any state of the
 * database tells exactly which ops it holds, and checks itself: an item's body derives
 * from its op id, a counter's value equals the number of increments recorded, and each
 * increment records the value it read.
 */
export const SCHEMA = [
  'BEGIN',
  'CREATE TABLE ops (op INTEGER PRIMARY KEY, kind TEXT NOT NULL, proc TEXT NOT NULL, target INTEGER, seen INTEGER)',
  'CREATE TABLE items (id INTEGER PRIMARY KEY, body BLOB NOT NULL)',
  'CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)',
  'COMMIT',
].join('; ');

export type WriteKind = 'insert-small' | 'insert-large' | 'delete' | 'increment';

/** A row of the small kind fits a page; a large one is over the 128 KiB inline limit, so its commit uploads block objects. */
export const BODY_BYTES = { 'insert-small': 100, 'insert-large': 150_000 } as const;

const bodies = new Map<string, Uint8Array>();

/** The body of item `op` (deterministic: anyone can check it). */
export function bodyOf(op: number, kind: 'insert-small' | 'insert-large'): Uint8Array {
  const key = `${kind}:${op}`;
  let body = bodies.get(key);
  if (!body) {
    body = new Random(op * 2654435761).fill(new Uint8Array(BODY_BYTES[kind]));
    // The first bytes say whose body it is, so a misplaced body is recognisable in a dump.
    new TextEncoder().encodeInto(`op ${op} `, body);
    if (bodies.size > 256) bodies.clear();
    bodies.set(key, body);
  }
  return body;
}

export interface OpRow {
  op: number;
  kind: string;
  proc: string;
  target: number | null;
  seen: number | null;
}

/** What one read of the database saw. */
export interface DbState {
  ops: Map<number, OpRow>;
  /** Item id → its body (undefined when bodies were not read, only their lengths). */
  items: Map<number, { length: number; body: Uint8Array | undefined }>;
  counters: Map<number, number>;
}

/** Reads the whole state (in the caller's transaction, if any). With `bodies` false, only the bodies' lengths. */
export async function readState(db: Database, bodies = true): Promise<DbState> {
  const ops = new Map<number, OpRow>();
  for (const row of await db.all('SELECT op, kind, proc, target, seen FROM ops ORDER BY op')) {
    ops.set(Number(row.op), {
      op: Number(row.op),
      kind: String(row.kind),
      proc: String(row.proc),
      target: row.target === null ? null : Number(row.target),
      seen: row.seen === null ? null : Number(row.seen),
    });
  }
  const items = new Map<number, { length: number; body: Uint8Array | undefined }>();
  const sql = bodies ? 'SELECT id, body, length(body) AS length FROM items ORDER BY id' : 'SELECT id, length(body) AS length FROM items ORDER BY id';
  for (const row of await db.all(sql)) {
    items.set(Number(row.id), { length: Number(row.length), body: bodies ? (row.body as Uint8Array) : undefined });
  }
  const counters = new Map<number, number>();
  for (const row of await db.all('SELECT id, n FROM counters ORDER BY id')) counters.set(Number(row.id), Number(row.n));
  return { ops, items, counters };
}

/**
 * The whole state in one statement (one read transaction of its own, in autocommit mode):
 * what a caller reading with plain `db.all` outside any transaction gets, which the
 * atomic layout runs without waiting for its look for new commits (AtomicVFS.speculate).
 */
export async function readStateAtOnce(db: Database): Promise<DbState> {
  const rows = await db.all(
    `SELECT 'op' AS t, op AS id, kind, proc, target, seen, NULL AS body, NULL AS length FROM ops
     UNION ALL SELECT 'item', id, NULL, NULL, NULL, NULL, body, length(body) FROM items
     UNION ALL SELECT 'counter', id, NULL, NULL, n, NULL, NULL, NULL FROM counters`,
  );
  const state: DbState = { ops: new Map(), items: new Map(), counters: new Map() };
  for (const row of rows) {
    const id = Number(row.id);
    if (row.t === 'op') {
      state.ops.set(id, {
        op: id,
        kind: String(row.kind),
        proc: String(row.proc),
        target: row.target === null ? null : Number(row.target),
        seen: row.seen === null ? null : Number(row.seen),
      });
    } else if (row.t === 'item') state.items.set(id, { length: Number(row.length), body: row.body as Uint8Array });
    else state.counters.set(id, Number(row.target));
  }
  return state;
}

/** The op ids of a state, ascending. */
export function opIds(state: DbState): number[] {
  return [...state.ops.keys()].sort((a, b) => a - b);
}

/**
 * What is wrong with a state on its own, whatever the history: each problem names the
 * guarantee it breaks. Empty for a state that is the result of whole transactions.
 */
export function invariantProblems(state: DbState): Array<{ guarantee: 'allOrNothing' | 'oneWriter'; message: string }> {
  const problems: Array<{ guarantee: 'allOrNothing' | 'oneWriter'; message: string }> = [];
  const deletedBy = new Map<number, number>();
  for (const row of state.ops.values()) {
    if (row.kind === 'delete' && row.target !== null) {
      const other = deletedBy.get(row.target);
      if (other !== undefined) problems.push({ guarantee: 'oneWriter', message: `item ${row.target} was deleted twice (ops ${other} and ${row.op})` });
      deletedBy.set(row.target, row.op);
    }
  }
  for (const [id, item] of state.items) {
    const row = state.ops.get(id);
    if (!row || (row.kind !== 'insert-small' && row.kind !== 'insert-large')) {
      problems.push({ guarantee: 'allOrNothing', message: `item ${id} is there but its insert op is not recorded` });
      continue;
    }
    const expected = bodyOf(id, row.kind);
    if (item.length !== expected.length || (item.body !== undefined && !equal(item.body, expected))) {
      problems.push({
        guarantee: 'allOrNothing',
        message: `item ${id}'s body is damaged (${item.length} bytes, expected ${expected.length}${item.body && item.length === expected.length ? ', different bytes' : ''})`,
      });
    }
    if (deletedBy.has(id)) problems.push({ guarantee: 'allOrNothing', message: `item ${id} is there although op ${deletedBy.get(id)} deleted it` });
  }
  const increments = new Map<number, number[]>();
  for (const row of state.ops.values()) {
    switch (row.kind) {
      case 'insert-small':
      case 'insert-large':
        if (!state.items.has(row.op) && !deletedBy.has(row.op))
          problems.push({ guarantee: 'allOrNothing', message: `op ${row.op} (${row.kind}) is recorded but its item is missing (and no delete removed it)` });
        break;
      case 'delete':
        if (row.target !== null) {
          const target = state.ops.get(row.target);
          if (!target?.kind.startsWith('insert'))
            problems.push({ guarantee: 'allOrNothing', message: `op ${row.op} deleted item ${row.target}, whose insert is not recorded` });
        }
        break;
      case 'increment': {
        if (row.target === null || row.seen === null) {
          problems.push({ guarantee: 'allOrNothing', message: `increment op ${row.op} has no counter or no value` });
          break;
        }
        const seen = increments.get(row.target) ?? [];
        seen.push(row.seen);
        increments.set(row.target, seen);
        break;
      }
      default:
        problems.push({ guarantee: 'allOrNothing', message: `op ${row.op} has an unknown kind "${row.kind}"` });
    }
  }
  for (const id of new Set([...increments.keys(), ...state.counters.keys()])) {
    const seen = (increments.get(id) ?? []).sort((a, b) => a - b);
    const n = state.counters.get(id) ?? 0;
    const chain = seen.length === n && seen.every((value, i) => value === i);
    if (!chain) {
      const shown = seen.length > 12 ? `${seen.slice(0, 12).join(',')},…` : seen.join(',');
      problems.push({ guarantee: 'oneWriter', message: `counter ${id} is ${n} but its increments read [${shown}] (a lost or doubled read-modify-write)` });
    }
  }
  return problems;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
