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
  /** Median seconds of the step on blockvfs over the rounds. */
  blockvfs: number;
  /** Median seconds of the same step on better-sqlite3. */
  native: number;
  /** Median over the rounds of each round's ratio blockvfs ÷ better-sqlite3 (paired: both ran back to back). */
  ratio: number;
  /** The bound on the ratio, when the step has one. */
  limit?: number;
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

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** Point queries run in chunks of this many, the two engines taking turns, so that a drift in the machine's speed hits both alike. */
const CHUNK = 1000;

/**
 * Engine-only comparison: the same inserts, point queries and scan on blockvfs (memory
 * store, no latency) and better-sqlite3 (native, in memory), `rounds` times on fresh
 * databases. Both use prepared statements (`db.prepare`, as better-sqlite3 is used), and
 * run back to back in each round, point queries in alternating chunks: this machine's
 * speed drifts by 2× within minutes, so each figure is the median of the rounds and
 * each ratio the median of the rounds' ratios. Point queries run four ways on blockvfs:
 * `db.get` with the SQL text and default options (each read transaction looks for
 * other writers' commits: one store GET), a prepared statement the same way, with the
 * writer lease held and within a `freshnessMs` window (no look needed: the bound).
 */
export async function runEngine(rows = 100_000, queries = 20_000, onStep?: (step: string) => void, rounds = 5): Promise<EngineResult[]> {
  const samples = new Map<string, { blockvfs: number[]; native: number[]; ratio: number[]; limit?: number }>();
  const keep = (step: string, blockvfs: number, native: number, limit?: number): void => {
    const held = samples.get(step) ?? { blockvfs: [], native: [], ratio: [], ...(limit === undefined ? {} : { limit }) };
    held.blockvfs.push(blockvfs);
    held.native.push(native);
    held.ratio.push(blockvfs / native);
    samples.set(step, held);
  };
  for (let round = 1; round <= rounds; round++) {
    onStep?.(`round ${round} of ${rounds}`);
    const native = new Sqlite(':memory:');
    native.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const store = new MemoryStore();
    const db = await openDatabase({ store, name: 'engine.db' });
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');

    const nativeInsert = native.prepare('INSERT INTO t VALUES (?, ?)');
    const insert = await db.prepare('INSERT INTO t VALUES (?, ?)');
    keep(
      `insert ${rows} rows in one transaction`,
      await seconds(() =>
        db.transaction(async () => {
          for (let id = 1; id <= rows; id++) await insert.run([id, text(id)]);
        }),
      ),
      await seconds(() =>
        native.transaction(() => {
          for (let id = 1; id <= rows; id++) nativeInsert.run(id, text(id));
        })(),
      ),
      2.5,
    );
    await insert.finalize();

    const select = native.prepare('SELECT v FROM t WHERE id = ?');
    /**
     * `queries` point queries by random id, in chunks taking turns with better-sqlite3's: [ours, theirs] in
     * seconds. A scan first brings every page into memory, as better-sqlite3's database is: the engines compared, not the cold reads.
     */
    const points = async (on: typeof db, query: (id: number) => Promise<unknown>): Promise<[number, number]> => {
      await on.get('SELECT count(*), sum(length(v)) FROM t');
      const ours = numbers(7);
      const theirs = numbers(7);
      let blockvfs = 0;
      let nativeSeconds = 0;
      for (let done = 0; done < queries; done += CHUNK) {
        const n = Math.min(CHUNK, queries - done);
        blockvfs += await seconds(async () => {
          for (let i = 0; i < n; i++) await query((ours.next().value % rows) + 1);
        });
        nativeSeconds += await seconds(() => {
          for (let i = 0; i < n; i++) select.get((theirs.next().value % rows) + 1);
        });
      }
      return [blockvfs, nativeSeconds];
    };
    keep(`${queries} point queries, db.get, default options`, ...(await points(db, (id) => db.get('SELECT v FROM t WHERE id = ?', [id]))));
    const byId = await db.prepare('SELECT v FROM t WHERE id = ?');
    keep(`${queries} point queries, prepared, default options`, ...(await points(db, (id) => byId.get([id]))));
    await db.close();

    const fresh = await openDatabase({ store, name: 'engine.db', freshnessMs: 60_000 });
    const freshById = await fresh.prepare('SELECT v FROM t WHERE id = ?');
    keep(`${queries} point queries, prepared, within freshnessMs`, ...(await points(fresh, (id) => freshById.get([id]))), 3);
    await fresh.close();

    const leased = await openDatabase({ store, name: 'engine.db', lease: true });
    await leased.run('INSERT INTO t VALUES (?, ?)', [rows + 1, text(rows + 1)]); // takes the lease
    const leasedById = await leased.prepare('SELECT v FROM t WHERE id = ?');
    keep(`${queries} point queries, prepared, writer lease held`, ...(await points(leased, (id) => leasedById.get([id]))), 3);

    // The scan: a few times each, taking turns, each figure the median of its turns.
    const scans: [number[], number[]] = [[], []];
    const everything = await leased.prepare('SELECT * FROM t');
    const nativeEverything = native.prepare('SELECT * FROM t');
    for (let turn = 0; turn < 5; turn++) {
      scans[0].push(await seconds(() => everything.all()));
      scans[1].push(await seconds(() => nativeEverything.all()));
    }
    keep('full scan to JavaScript rows', median(scans[0]), median(scans[1]), 2);
    await leased.close();
    native.close();
  }
  return [...samples].map(([step, s]) => ({
    step,
    blockvfs: median(s.blockvfs),
    native: median(s.native),
    ratio: median(s.ratio),
    ...(s.limit === undefined ? {} : { limit: s.limit }),
  }));
}

export function engineTable(results: EngineResult[]): string {
  const lines = ['| step | blockvfs (s) | better-sqlite3 (s) | ratio |', '|---|---|---|---|'];
  for (const r of results) lines.push(`| ${r.step} | ${r.blockvfs.toFixed(3)} | ${r.native.toFixed(3)} | ${r.ratio.toFixed(1)}× |`);
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
