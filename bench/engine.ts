// Engine-only comparison: blockvfs (wa-sqlite + our VFS) on a MemoryStore with no
// latency against better-sqlite3 (native SQLite, in memory), same process, same run.
// Wall seconds for each and the ratio ours ÷ theirs. Part of `pnpm bench`; alone:
//
//   pnpm bench:engine [--rows 100000] [--queries 20000]
import { parseArgs } from 'node:util';
import Sqlite from 'better-sqlite3';
import { MemoryStore } from '@blockvfs/store-memory';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

export interface EngineResult {
  step: string;
  blockvfs: number;
  native: number;
}

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

/**
 * Engine-only comparison: the same inserts, point queries and scan on blockvfs (memory
 * store, no latency, default options) and better-sqlite3 (native, in memory), one after
 * the other in this process.
 */
export async function runEngine(rows = 100_000, queries = 20_000, onStep?: (step: string) => void): Promise<EngineResult[]> {
  const native = new Sqlite(':memory:');
  native.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const db = await openDatabase({ store: new MemoryStore(), name: 'engine.db' });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const results: EngineResult[] = [];
  const step = async (name: string, ours: () => Promise<unknown>, theirs: () => unknown): Promise<void> => {
    onStep?.(name);
    const nativeSeconds = await seconds(theirs);
    const blockvfs = await seconds(ours);
    results.push({ step: name, blockvfs, native: nativeSeconds });
  };
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
  return results;
}

export function engineTable(results: EngineResult[]): string {
  const lines = ['| step | blockvfs (s) | better-sqlite3 (s) | ratio |', '|---|---|---|---|'];
  for (const r of results) lines.push(`| ${r.step} | ${r.blockvfs.toFixed(3)} | ${r.native.toFixed(3)} | ${(r.blockvfs / r.native).toFixed(1)}× |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, queries: { type: 'string', default: '20000' } } });
  const results = await runEngine(Number(values.rows), Number(values.queries), (step) => console.error(step));
  console.log(engineTable(results));
  console.log(`\nNode ${process.version}, ${process.platform}/${process.arch}`);
}
