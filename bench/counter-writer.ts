// A child of many.ts: one process of the two-writer counter, on a folder store shared by both,
// every request paying the bench's round trip. Modes:
//   setup <root> <latency>                create the counter (0)
//   increment <root> <latency> <count>    count read-modify-write transactions, default busyTimeout
//   read <root> <latency>                 print the counter
// Prints JSON.
import { withLatency } from '@blockvfs/core/testing';
import { FsStore } from '@blockvfs/store-fs';
import { isBusyError, openDatabase } from '@blockvfs/vfs-wasqlite';

const [mode, root, latency, count] = process.argv.slice(2);
if (!root || !latency) throw new Error('usage: counter-writer.ts setup|increment|read <root> <latency> [count]');
const db = await openDatabase({ store: withLatency(new FsStore({ root }), Number(latency)), name: 'counter.db' });
try {
  if (mode === 'setup') {
    await db.exec('CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)');
    console.log('{}');
  } else if (mode === 'increment') {
    let attempts = 0;
    let busyThrown = 0;
    for (let i = 0; i < Number(count); i++) {
      try {
        await db.transaction(async () => {
          attempts += 1;
          const row = await db.get<{ n: number }>('SELECT n FROM counter');
          await db.run('UPDATE counter SET n = ?', [(row?.n ?? 0) + 1]);
        });
      } catch (error) {
        if (!isBusyError(error)) throw error;
        busyThrown += 1;
      }
    }
    console.log(JSON.stringify({ attempts, busyThrown }));
  } else if (mode === 'read') {
    console.log(JSON.stringify(await db.get('SELECT n FROM counter')));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await db.close();
}
