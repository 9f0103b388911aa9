import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicBlockKey, atomicCommitKey } from '@blockvfs/core/format';
import { DEFAULT_BLOCK_SIZE, inspectDatabase, listCommits, type BlockStore } from '@blockvfs/core';
import { ManualClock } from '@blockvfs/core/testing';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { runCli, type CliResult } from './run-cli.js';

/**
 * Every command of `blockvfs`, run as a child process against one kind of store: the
 * same tests for a folder (cli.test.ts) and for S3 on Ceph RGW (cli.s3.test.ts).
 */

/** Where a test keeps its databases: URLs for the child, and the same store for the test's own checks. */
export interface Place {
  url(name: string): string;
  store: BlockStore;
}

export interface CliSuiteOptions {
  /** A fresh, empty place per call. */
  place(label: string): Place;
  /** Environment for the child (credentials, endpoints). */
  env: NodeJS.ProcessEnv;
}

/** Makes an SQLite file with the `sqlite3` shell: `rows` rows of a table t(id, body, n). */
export function makeSqliteFile(path: string, pageSize: number, rows: number): Buffer {
  execFileSync('sqlite3', [
    path,
    `PRAGMA page_size=${pageSize}; CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT, n REAL); ` +
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<${rows}) INSERT INTO t SELECT i, hex(randomblob(40)), i*0.5 FROM c; ` +
      'CREATE INDEX t_body ON t(body);',
  ]);
  return readFileSync(path);
}

/** Every key under a store's database (for "nothing was deleted"). */
async function keysOf(store: BlockStore, name: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(`${name}/`)) keys.push(entry.key);
  return keys;
}

export function defineCliTests(options: CliSuiteOptions): void {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'blockvfs-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = (args: string[], input?: string | Uint8Array): Promise<CliResult> =>
    runCli(args, { env: options.env, ...(input === undefined ? {} : { input }) });
  const ok = async (args: string[], input?: string | Uint8Array): Promise<CliResult> => {
    const result = await cli(args, input);
    if (result.code !== 0) throw new Error(`blockvfs ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result;
  };

  describe('import and export', () => {
    for (const pageSize of [512, 4096, 65536]) {
      it(`give back the same bytes, with ${pageSize}-byte pages`, async () => {
        const place = options.place(`roundtrip-${pageSize}`);
        const file = join(dir, `in-${pageSize}.sqlite`);
        // Several blocks, few enough that 512-byte blocks stay quick on a loaded S3 server.
        const original = makeSqliteFile(file, pageSize, { 512: 500, 4096: 1500, 65536: 3000 }[pageSize] as number);
        const imported = await ok(['import', file, place.url('db')]);
        expect(imported.stderr).toMatch(/imported .* pages of \d+ bytes/);
        const out = join(dir, `out-${pageSize}.sqlite`);
        await ok(['export', place.url('db'), out]);
        expect(readFileSync(out).equals(original)).toBe(true);
        execFileSync('cmp', [file, out]);
        // Through stdin and stdout, `-`, the same.
        await ok(['import', '--quiet', '-', place.url('piped')], original);
        const piped = await ok(['export', place.url('piped'), '-']);
        expect(piped.bytes.equals(original)).toBe(true);
      });
    }

    it('print plain progress lines when stderr is not a terminal, and none with --quiet', async () => {
      const place = options.place('progress');
      const file = join(dir, 'progress.sqlite');
      makeSqliteFile(file, 4096, 500);
      const loud = await ok(['import', file, place.url('db')]);
      // The last line of the writing phase says all of it reached the store.
      expect(loud.stderr).toMatch(/^import: [\d.]+ KiB of ([\d.]+ KiB) \(100%\)/m);
      const quiet = await ok(['--quiet', 'export', place.url('db'), join(dir, 'progress-out.sqlite')]);
      expect(quiet.stderr).toBe('');
    });

    it('refuse to replace an existing database or file without --force', async () => {
      const place = options.place('force');
      const file = join(dir, 'force.sqlite');
      makeSqliteFile(file, 4096, 10);
      await ok(['import', file, place.url('db')]);
      const again = await cli(['import', file, place.url('db')]);
      expect(again.code).toBe(4);
      expect(again.stderr).toMatch(/already exists; use --force/);
      await ok(['import', '--force', file, place.url('db')]);
      expect((await listCommits({ store: place.store, name: 'db' })).map((c) => c.seq)).toEqual([2, 1]);
      const refused = await cli(['export', place.url('db'), file]);
      expect(refused.code).toBe(4);
      await ok(['export', '--force', place.url('db'), file]);
    });

    it('refuse a file that is not an SQLite database, and a missing database', async () => {
      const place = options.place('bad-input');
      const bad = await cli(['import', '-', place.url('db')], 'not a database at all, not at all'.repeat(10));
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/SQLite/);
      const missing = await cli(['export', place.url('nothing'), join(dir, 'nothing.sqlite')]);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/no database "nothing"/);
    });
  });

  describe('sql', () => {
    let place: Place;
    beforeAll(async () => {
      place = options.place('sql');
      await ok([
        'sql',
        '--create',
        place.url('db'),
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, big INTEGER, data BLOB); INSERT INTO notes VALUES (1, 'a, \"quoted\" body', 9007199254740993, x'00ff')",
      ]);
      await ok(['sql', place.url('db'), "INSERT INTO notes(body) VALUES ('second')"]);
    });

    it('answers as a table', async () => {
      const { stdout } = await ok(['sql', place.url('db'), 'SELECT id, body FROM notes ORDER BY id']);
      expect(stdout).toBe('id  body\n--  ----------------\n1   a, "quoted" body\n2   second\n');
    });

    it('answers as JSON, integers beyond 2^53 exact and blobs in hex', async () => {
      const { stdout } = await ok(['sql', '--format', 'json', place.url('db'), 'SELECT * FROM notes ORDER BY id']);
      expect(stdout.trim()).toBe(
        '[{"id":1,"body":"a, \\"quoted\\" body","big":9007199254740993,"data":"00FF"},{"id":2,"body":"second","big":null,"data":null}]',
      );
    });

    it('answers as CSV', async () => {
      const { stdout } = await ok(['sql', '--format', 'csv', place.url('db'), 'SELECT id, body, big FROM notes ORDER BY id']);
      expect(stdout).toBe('id,body,big\r\n1,"a, ""quoted"" body",9007199254740993\r\n2,second,\r\n');
    });

    it('reads statements from stdin when it is not a terminal, going on after an error as sqlite3 does', async () => {
      const { stdout } = await ok(['sql', place.url('db')], 'SELECT count(*) AS n\n  FROM notes;\n.mode json\nSELECT 1 AS one;\n');
      expect(stdout).toBe('n\n-\n2\n[{"one":1}]\n');
      const failing = await cli(['sql', place.url('db')], 'SELECT nope FROM notes; SELECT 2 AS two;\n');
      expect(failing.code).toBe(1);
      expect(failing.stderr).toMatch(/Error: no such column: nope[\s\S]*1 statement\(s\) failed/);
      expect(failing.stdout).toBe('two\n---\n2\n');
    });

    it('says what is wrong: a missing database, a bad URL, bad SQL, a bad option', async () => {
      const missing = await cli(['sql', place.url('nope'), 'SELECT 1']);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/no database at .*--create/);
      const badUrl = await cli(['sql', 'ftp://host/db', 'SELECT 1']);
      expect(badUrl.code).toBe(2);
      expect(badUrl.stderr).toMatch(/unknown scheme "ftp:"/);
      const noName = await cli(['info', 's3://bucket/']);
      expect(noName.code).toBe(2);
      expect(noName.stderr).toMatch(/no database name/);
      const badSql = await cli(['sql', place.url('db'), 'SELEC 1']);
      expect(badSql.code).toBe(1);
      expect(badSql.stderr).toMatch(/syntax error/);
      const badFormat = await cli(['sql', '--format', 'xml', place.url('db'), 'SELECT 1']);
      expect(badFormat.code).toBe(2);
      expect(badFormat.stderr).toMatch(/table, json, csv/);
    });
  });

  describe('info, log, gc', () => {
    it('info --json reports what inspectDatabase reports', async () => {
      const place = options.place('info');
      const file = join(dir, 'info.sqlite');
      makeSqliteFile(file, 4096, 800);
      await ok(['import', file, place.url('db')]);
      await ok(['sql', place.url('db'), "UPDATE t SET body = 'changed' WHERE id < 10"]);
      const { stdout } = await ok(['info', '--json', place.url('db')]);
      const reported = JSON.parse(stdout) as Record<string, unknown>;
      const library = await inspectDatabase({ store: place.store, name: 'db' });
      expect(reported).toEqual(JSON.parse(JSON.stringify(library, (_k, v: unknown) => (v === undefined ? null : v))));
      expect(reported).toMatchObject({
        layout: 'atomic',
        pageSize: 4096,
        blockSize: DEFAULT_BLOCK_SIZE,
        size: readFileSync(file).length,
        commit: { seq: 2 },
        lease: null,
      });
      expect(library.pageCount).toBe(readFileSync(file).length / 4096);
      expect(library.objects.records.count).toBe(2);
      const text = await ok(['info', place.url('db')]);
      expect(text.stdout).toMatch(/^layout\s+atomic$/m);
      expect(text.stdout).toMatch(/^commit\s+2 at \d{4}-/m);
    });

    it('log lists the commits kept, newest first', async () => {
      const place = options.place('log');
      await ok(['sql', '--create', place.url('db'), 'CREATE TABLE t(x)']);
      for (const x of [1, 2, 3]) await ok(['sql', place.url('db'), `INSERT INTO t VALUES (${x})`]);
      const { stdout } = await ok(['log', '--json', place.url('db')]);
      const commits = JSON.parse(stdout) as Array<{ seq: number; blocksWritten: number }>;
      expect(commits.map((c) => c.seq)).toEqual([4, 3, 2, 1]);
      expect(commits).toEqual(JSON.parse(JSON.stringify(await listCommits({ store: place.store, name: 'db' }))));
      const table = await ok(['log', '-n', '2', place.url('db')]);
      expect(table.stdout.split('\n')[0]).toMatch(/^commit\s+time\s+size\s+blocks written$/);
      expect(table.stdout.trim().split('\n')).toHaveLength(4);
    });

    it('gc --dry-run deletes nothing; gc deletes what no commit names', async () => {
      const place = options.place('gc');
      // Two commits made two hours ago (a clock set back): a one-hour retention keeps only the newest.
      const clock = new ManualClock(Date.now() - 2 * 3_600_000);
      const db = await openDatabase({ store: place.store, name: 'db', clock });
      await db.exec('CREATE TABLE t(x)');
      clock.advance(1000);
      await db.run('INSERT INTO t VALUES (1)');
      await db.close();
      // An orphan: a block object of an attempt that lost seq 1 (another tag), older than the retention: garbage.
      const orphan = atomicBlockKey('db', 0, 1, '0123456789abcdef');
      await place.store.put(orphan, new Uint8Array(4096));
      const before = await keysOf(place.store, 'db');
      const dry = await ok(['gc', '--dry-run', '--retention', '1h', place.url('db')]);
      expect(dry.stdout).toMatch(/would delete 1 block objects, [1-9]\d* commit records and 0 checkpoints: [\d.]+ KiB would be freed/);
      expect(await keysOf(place.store, 'db')).toEqual(before);
      const info = JSON.parse((await ok(['info', '--json', place.url('db')])).stdout) as { objects: { garbage: { count: number } } };
      expect(info.objects.garbage.count).toBe(1);
      const real = JSON.parse((await ok(['gc', '--json', '--retention', '1h', place.url('db')])).stdout) as {
        deleted: { blocks: number; records: number };
      };
      expect(real.deleted.blocks).toBe(1); // the orphan (and the records before the newest commit, the one kept)
      expect(real.deleted.records).toBeGreaterThan(0);
      expect(await keysOf(place.store, 'db')).not.toContain(orphan);
      const rows = await ok(['sql', '--format', 'csv', place.url('db'), 'SELECT x FROM t']);
      expect(rows.stdout).toBe('x\r\n1\r\n');
    });

    it('gc refuses a bad duration', async () => {
      const result = await cli(['gc', '--retention', 'soon', options.place('gc-bad').url('db')]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/not a duration/);
    });
  });

  describe('restore, cp, verify', () => {
    it('restore brings back the rows of an older commit, keeping the history', async () => {
      const place = options.place('restore');
      await ok(['sql', '--create', place.url('db'), 'CREATE TABLE t(x)']);
      await ok(['sql', place.url('db'), 'INSERT INTO t VALUES (1), (2)']);
      await ok(['sql', place.url('db'), 'DELETE FROM t; INSERT INTO t VALUES (3)']);
      const rows = async (url: string) => (await ok(['sql', '--format', 'csv', url, 'SELECT x FROM t ORDER BY x'])).stdout;
      expect(await rows(place.url('db'))).toBe('x\r\n3\r\n');
      // --to: the state of commit 2 under another name; the database itself is left alone.
      await ok(['restore', place.url('db'), '--as-of', '2', '--to', place.url('copy')]);
      expect(await rows(place.url('copy'))).toBe('x\r\n1\r\n2\r\n');
      expect(await rows(place.url('db'))).toBe('x\r\n3\r\n');
      const restored = await ok(['restore', place.url('db'), '--as-of', '2']);
      expect(restored.stdout).toMatch(/restored the state of commit 2 as commit 5/);
      expect(await rows(place.url('db'))).toBe('x\r\n1\r\n2\r\n');
      // The history in between is still there, and the restored database takes new commits.
      expect(await rows(`${place.url('db')}`)).toBe('x\r\n1\r\n2\r\n');
      expect((await ok(['sql', '--as-of', '4', '--format', 'csv', place.url('db'), 'SELECT x FROM t'])).stdout).toBe('x\r\n3\r\n');
      await ok(['sql', place.url('db'), 'INSERT INTO t VALUES (4)']);
      expect(await rows(place.url('db'))).toBe('x\r\n1\r\n2\r\n4\r\n');
      await ok(['verify', place.url('db')]);
      const missing = await cli(['restore', place.url('db'), '--as-of', '99']);
      expect(missing.code).toBe(3);
    });

    it('cp copies a database to another name, whole', async () => {
      const place = options.place('cp');
      const file = join(dir, 'cp.sqlite');
      const original = makeSqliteFile(file, 4096, 300);
      await ok(['import', file, place.url('a')]);
      await ok(['cp', place.url('a'), place.url('b')]);
      const out = await ok(['export', place.url('b'), '-']);
      expect(out.bytes.equals(original)).toBe(true);
      expect((await cli(['cp', place.url('a'), place.url('b')])).code).toBe(4);
      expect((await cli(['cp', place.url('missing'), place.url('c')])).code).toBe(3);
    });

    it('verify passes a sound database and fails (status 5) on a damaged object', async () => {
      const place = options.place('verify');
      const file = join(dir, 'verify.sqlite');
      makeSqliteFile(file, 4096, 2000); // past the 128 KiB a record carries inline: block objects

      await ok(['import', file, place.url('db')]);
      const sound = await ok(['verify', place.url('db')]);
      expect(sound.stdout).toMatch(/^ok: atomic layout; checked 1 commit records, 0 checkpoints, \d+ block objects .*integrity_check: ok/);
      // One byte of a block object flipped, as a bad copy or a bit rot would.
      const key = (await keysOf(place.store, 'db')).find((k) => k.includes('/blocks/0000000002.')) as string;
      const bytes = (await place.store.get(key)) as Uint8Array;
      bytes[100] = (bytes[100] as number) ^ 0xff;
      await place.store.put(key, bytes);
      const damaged = await cli(['verify', place.url('db')]);
      expect(damaged.code).toBe(5);
      expect(damaged.stdout).toContain(`block object "${key}" (named by commit 1) fails its CRC-32C check`);
      expect(damaged.stderr).toMatch(/is damaged/);
      // A commit record cut short: its envelope's CRC no longer matches.
      const record = atomicCommitKey('db', 1);
      const recordBytes = (await place.store.get(record)) as Uint8Array;
      await place.store.put(record, recordBytes.subarray(0, recordBytes.length - 1));
      const json = await cli(['verify', '--json', place.url('db')]);
      expect(json.code).toBe(5);
      expect((JSON.parse(json.stdout) as { problems: string[] }).problems.join('\n')).toMatch(/log\/000000000001/);
    });
  });

  it('--help lists every command, and each command’s --help its options', async () => {
    const { stdout } = await ok(['--help']);
    for (const command of ['import', 'export', 'info', 'log', 'gc', 'restore', 'verify', 'sql', 'cp'])
      expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect((await ok(['gc', '--help'])).stdout).toMatch(/--retention <duration>[\s\S]*--dry-run/);
    expect((await ok(['export', '--help'])).stdout).toMatch(/--as-of <commit\|time>/);
    expect((await ok(['sql', '--help'])).stdout).toMatch(/--format <format>/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });
}
