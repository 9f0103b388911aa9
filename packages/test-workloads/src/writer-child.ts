/**
 * A writer in a process of its own, started by processes.ts. It runs from the built
 * package (dist/writer-child.js) with its JSON spec as the one argument, and reports
 * on stdout one line per event: `ready`, `ack <n>` after each acknowledged commit,
 * `busy` after each commit lost to another writer (then retried), `done` at the end.
 */
import type { BlockStore } from '@blockvfs/core';
import { isBusyError, openDatabase, type Database } from '@blockvfs/vfs-wasqlite';
import type { WriterSpec } from './processes.js';

/** The store, from the module the spec names (its `createStore(options)`): the child knows no store itself. */
async function storeOf(spec: WriterSpec['store']): Promise<BlockStore> {
  const module = (await import(spec.module)) as { createStore(options: unknown): BlockStore | Promise<BlockStore> };
  return module.createStore(spec.options);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function insertLoop(db: Database, first: number): Promise<never> {
  for (let id = first; ; id++) {
    // Every fifth row is large: its commit uploads block objects before the record.
    const v = id % 5 === 0 ? 'L'.repeat(200_000) : `row ${id}`;
    await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, v]);
    say(`ack ${id}`);
  }
}

async function increments(db: Database, spec: WriterSpec): Promise<void> {
  for (let i = 0; i < spec.count; i++) {
    for (;;) {
      try {
        // Read, then write what was read plus one: a lost update would show in the total.
        await db.transaction(async () => {
          const row = await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1');
          await db.run('UPDATE counter SET n = ? WHERE id = 1', [(row?.n ?? 0) + 1]);
          await db.run('INSERT INTO increments (worker, i) VALUES (?, ?)', [spec.worker, i]);
        });
        say(`ack ${i}`);
        break;
      } catch (error) {
        if (!isBusyError(error)) throw error;
        say('busy');
        await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 30));
      }
    }
  }
}

const spec = JSON.parse(process.argv[2] ?? '{}') as WriterSpec;
const db = await openDatabase({ store: await storeOf(spec.store), name: spec.name, ...(spec.lease ? { lease: true } : {}) });
say('ready');
if (spec.task === 'insert-loop') await insertLoop(db, spec.count);
else await increments(db, spec);
await db.close();
say('done');
