// Engine-only comparison: blockvfs (wa-sqlite + our VFS) on a MemoryStore with no
// latency against better-sqlite3 (native SQLite, in memory), same process, same run.
// Prints wall seconds for each and the ratio ours ÷ theirs.
//
//   pnpm bench:engine [--rows 100000] [--queries 20000]
import { parseArgs } from 'node:util';
import Sqlite from 'better-sqlite3';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, queries: { type: 'string', default: '20000' } } });
const rows = Number(values.rows);
const queries = Number(values.queries);

/** The same pseudo-random ids and values for both engines. */
function* numbers(seed: number): Generator<number> {
  for (let x = seed; ; ) yield (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
}
const text = (n: number) => n.toString(36).padEnd(100, 'x');

async function seconds(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

const native = new Sqlite(':memory:');
native.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
const db = await openDatabase({ store: new MemoryStore(), name: 'engine.db' });
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');

const results: Array<{ step: string; blockvfs: number; native: number }> = [];
async function step(name: string, ours: () => Promise<unknown>, theirs: () => unknown): Promise<void> {
  const native = await seconds(theirs);
  const blockvfs = await seconds(ours);
  results.push({ step: name, blockvfs, native });
  console.error(`${name}: blockvfs ${blockvfs.toFixed(3)} s, better-sqlite3 ${native.toFixed(3)} s`);
}

await step(
  `insert ${rows} rows in one transaction`,
  () =>
    db.transaction(async () => {
      for (let id = 1; id <= rows; id++) await db.run('INSERT INTO t VALUES (?, ?)', [id, text(id)]);
    }),
  () => {
    const insert = native.prepare('INSERT INTO t VALUES (?, ?)');
    native.transaction(() => {
      for (let id = 1; id <= rows; id++) insert.run(id, text(id));
    })();
  },
);
await step(
  `${queries} point queries`,
  async () => {
    const ids = numbers(7);
    for (let i = 0; i < queries; i++) await db.get('SELECT v FROM t WHERE id = ?', [(ids.next().value % rows) + 1]);
  },
  () => {
    const select = native.prepare('SELECT v FROM t WHERE id = ?');
    const ids = numbers(7);
    for (let i = 0; i < queries; i++) select.get((ids.next().value % rows) + 1);
  },
);
await step(
  'full scan to JavaScript rows',
  () => db.all('SELECT * FROM t'),
  () => native.prepare('SELECT * FROM t').all(),
);
await db.close();
native.close();

console.log('| step | blockvfs (s) | better-sqlite3 (s) | ratio |');
console.log('|---|---|---|---|');
for (const r of results) console.log(`| ${r.step} | ${r.blockvfs.toFixed(3)} | ${r.native.toFixed(3)} | ${(r.blockvfs / r.native).toFixed(1)}× |`);
console.log(`\nNode ${process.version}, ${process.platform}/${process.arch}`);
