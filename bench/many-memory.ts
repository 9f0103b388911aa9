// A child of many.ts: RSS of a fresh process with N open idle databases (default settings)
// on one memory store. Run with --expose-gc; prints a MemoryResult as JSON.
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const count = Number(process.argv[2] ?? 64);
const gc = (globalThis as { gc?: () => void }).gc;
const rssMiB = (): number => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

const store = new MemoryStore();
// The shared costs first (SQLite's code, loaded and compiled once per process): one database opened and closed.
await (await openDatabase({ store, name: 'warm-up.db' })).close();
const baselineMiB = rssMiB();
const dbs = [];
for (let i = 0; i < count; i++) {
  const db = await openDatabase({ store, name: `tenant-${i}.db` });
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('hello')");
  await db.get('SELECT v FROM t WHERE id = 1');
  dbs.push(db);
}
const openMiB = rssMiB();
console.log(JSON.stringify({ databases: count, baselineMiB, openMiB, perDatabaseMiB: (openMiB - baselineMiB) / count }));
for (const db of dbs) await db.close();
