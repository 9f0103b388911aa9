// Engine-only comparison: blockvfs (wa-sqlite + our VFS) on a MemoryStore with no
// latency against better-sqlite3 (native SQLite, in memory), same process, same run.
// Wall seconds for each and the ratio ours ÷ theirs. Part of `pnpm bench`; alone:
//
//   pnpm bench:engine [--rows 100000] [--queries 20000] [--rounds 5]
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
  for (let x = seed; ; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield x;
  }
}
const text = (n: number) => n.toString(36).padEnd(100, 'x');

async function seconds(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

/**
 * Engine-only comparison: the same inserts, point queries and scan on blockvfs (memory
 * store, no latency) and better-sqlite3 (native, in memory), one after the other in this
 * process, `rounds` times on fresh databases; each figure is the best of its rounds (this
 * machine's speed drifts by 2× within minutes, so one run says little). The point queries
 * run twice on blockvfs: with default options (each read transaction looks for other
 * writers' commits: one store GET) and holding the writer lease (no look needed).
 */
export async function runEngine(rows = 100_000, queries = 20_000, onStep?: (step: string) => void, rounds = 5): Promise<EngineResult[]> {
  const best = new Map<string, EngineResult>();
  const keep = (step: string, blockvfs: number, native: number): void => {
    const held = best.get(step);
    best.set(step, { step, blockvfs: Math.min(blockvfs, held?.blockvfs ?? Infinity), native: Math.min(native, held?.native ?? Infinity) });
  };
  for (let round = 1; round <= rounds; round++) {
    onStep?.(`round ${round} of ${rounds}`);
    const native = new Sqlite(':memory:');
    native.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const store = new MemoryStore();
    const db = await openDatabase({ store, name: 'engine.db' });
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');

    const insert = native.prepare('INSERT INTO t VALUES (?, ?)');
    keep(
      `insert ${rows} rows in one transaction`,
      await seconds(() =>
        db.transaction(async () => {
          for (let id = 1; id <= rows; id++) await db.run('INSERT INTO t VALUES (?, ?)', [id, text(id)]);
        }),
      ),
      await seconds(() =>
        native.transaction(() => {
          for (let id = 1; id <= rows; id++) insert.run(id, text(id));
        })(),
      ),
    );

    const select = native.prepare('SELECT v FROM t WHERE id = ?');
    const nativePoints = async () => {
      const ids = numbers(7);
      for (let i = 0; i < queries; i++) select.get((ids.next().value % rows) + 1);
    };
    const points = (on: typeof db) => async () => {
      const ids = numbers(7);
      for (let i = 0; i < queries; i++) await on.get('SELECT v FROM t WHERE id = ?', [(ids.next().value % rows) + 1]);
    };
    keep(`${queries} point queries`, await seconds(points(db)), await seconds(nativePoints));
    await db.close();
    const leased = await openDatabase({ store, name: 'engine.db', lease: true });
    await leased.run('INSERT INTO t VALUES (?, ?)', [rows + 1, text(rows + 1)]); // takes the lease
    keep(`${queries} point queries, writer lease held`, await seconds(points(leased)), await seconds(nativePoints));

    keep('full scan to JavaScript rows', await seconds(() => leased.all('SELECT * FROM t')), await seconds(() => native.prepare('SELECT * FROM t').all()));
    await leased.close();
    native.close();
  }
  return [...best.values()];
}

export function engineTable(results: EngineResult[]): string {
  const lines = ['| step | blockvfs (s) | better-sqlite3 (s) | ratio |', '|---|---|---|---|'];
  for (const r of results) lines.push(`| ${r.step} | ${r.blockvfs.toFixed(3)} | ${r.native.toFixed(3)} | ${(r.blockvfs / r.native).toFixed(1)}× |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { rows: { type: 'string', default: '100000' }, queries: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } },
  });
  const results = await runEngine(Number(values.rows), Number(values.queries), (step) => console.error(step), Number(values.rounds));
  console.log(engineTable(results));
  console.log(`\nNode ${process.version}, ${process.platform}/${process.arch}`);
}
