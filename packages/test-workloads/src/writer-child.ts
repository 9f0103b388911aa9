/**
 * A writer in a process of its own, started by processes.ts with its JSON spec as the
 * one argument. It runs from this TypeScript source, like the code vitest tests (see
 * child-node.ts), and reports on stdout one line per event:
 *
 * - `wait` when it waits for a `go` line on stdin: insert-loop, before it opens the
 *   database (so that it can be started while the previous writer's work is checked);
 *   increment, after the first increment's read (so that every writer has read the same
 *   counter before any writes it, and all but one must lose their first commit);
 * - `ready` once the database is open;
 * - insert-loop: `begin <id>` before each commit, `ack <id>` once it is acknowledged;
 * - increment: `ack <i>` after each acknowledged increment, `busy` each time the Database
 *   runs an increment's transaction again (its commit was lost to another writer);
 * - `done` at the end.
 */
import { createInterface } from 'node:readline';
import type { BlockStore } from '@blockvfs/core';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import { assertRunningSources } from './child-node.js';
import type { WriterSpec } from './processes.js';

/** The store, from the module the spec names (its `createStore(options)`): the child knows no store itself. */
async function storeOf(spec: WriterSpec['store']): Promise<BlockStore> {
  const module = (await import(spec.module)) as { createStore(options: unknown): BlockStore | Promise<BlockStore> };
  return module.createStore(spec.options);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Says `wait`, then resolves on a `go` line; fails if stdin ends first (the parent is gone). */
function go(): Promise<void> {
  say('wait');
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      if (line !== 'go') return;
      resolve();
      lines.close();
      process.stdin.destroy(); // an open stdin would keep the process alive after `done`
    });
    lines.on('close', () => reject(new Error('stdin ended before a go line')));
  });
}

async function insertLoop(db: Database, first: number): Promise<never> {
  for (let id = first; ; id++) {
    // Every fifth row is large: its commit uploads block objects before the record.
    const v = id % 5 === 0 ? 'L'.repeat(200_000) : `row ${id}`;
    say(`begin ${id}`);
    await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, v]);
    say(`ack ${id}`);
  }
}

async function increments(db: Database, spec: WriterSpec): Promise<void> {
  let gated = false;
  for (let i = 0; i < spec.count; i++) {
    let runs = 0;
    // Read, then write what was read plus one: a lost update would show in the total. A
    // commit lost to another writer is waited out and the transaction run again by the
    // Database itself (busyTimeoutMs): a SQLITE_BUSY reaching here fails the child.
    await db.transaction(async () => {
      runs += 1;
      if (runs > 1) say('busy');
      const row = await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      // Between the read and the write, let other writers commit: first at the gate
      // (all have read, none has written), then for `pause` ms in every increment.
      if (gated) await sleep(spec.pause ?? 0);
      else {
        gated = true; // once, even if this attempt is lost and run again
        await go();
      }
      await db.run('UPDATE counter SET n = ? WHERE id = 1', [(row?.n ?? 0) + 1]);
      await db.run('INSERT INTO increments (worker, i) VALUES (?, ?)', [spec.worker, i]);
    });
    say(`ack ${i}`);
  }
}

assertRunningSources();
const spec = JSON.parse(process.argv[2] ?? '{}') as WriterSpec;
const store = await storeOf(spec.store);
if (spec.task === 'insert-loop') await go();
const db = await openDatabase({
  store,
  name: spec.name,
  ...(spec.lease ? { lease: true } : {}),
  ...(spec.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: spec.busyTimeoutMs }),
});
say('ready');
if (spec.task === 'insert-loop') await insertLoop(db, spec.count);
else await increments(db, spec);
await db.close();
say('done');
