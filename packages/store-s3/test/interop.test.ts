import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { serialize } from '@blockvfs/serialize';
import { openDatabase } from '@blockvfs/vfs-wasqlite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeS3, s3Suite } from './s3-target.js';

/**
 * Interoperability with uktrade/sqlite-s3vfs (the "direct" layout): block i of database
 * `<name>` is the object `<name>/<i as 10 digits>`, one object per block, every block but
 * the last exactly the block size (4096 there by default), and the blocks concatenated
 * are the database file. These tests check that shape object by object with the plain
 * SDK (not through S3Store), and check the bytes with the sqlite3 shell.
 */
const BLOCK = 4096;
const sqlite3Missing = spawnSync('sqlite3', ['-version']).status === 0 ? undefined : 'the sqlite3 shell is not installed (apt-get install sqlite3)';
const needsSqlite3 = (title: string) => (sqlite3Missing ? `${title} — SKIPPED: ${sqlite3Missing}` : title);
const itWithSqlite3 = sqlite3Missing ? it.skip : it;

function sqlite3Json(file: string, sql: string): unknown[] {
  const out = execFileSync('sqlite3', ['-json', file, sql], { encoding: 'utf8' }).trim();
  return out === '' ? [] : (JSON.parse(out) as unknown[]);
}

const blockKey = (name: string, index: number) => `${name}/${String(index).padStart(10, '0')}`;

describeS3('sqlite-s3vfs layout on S3', (target) => {
  const suite = s3Suite(target);
  let scratch: string;
  const store = (label: string) => suite.fresh(label).store;

  /** Every object under `prefix`, read with the plain SDK: raw key → bytes. */
  async function rawObjects(prefix: string): Promise<Map<string, Uint8Array>> {
    const objects = new Map<string, Uint8Array>();
    let startAfter: string | undefined;
    for (;;) {
      const page = await suite.client.send(
        new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) }),
      );
      for (const { Key } of page.Contents ?? []) {
        if (!Key) continue;
        const object = await suite.client.send(new GetObjectCommand({ Bucket: target.bucket, Key }));
        objects.set(Key, (await object.Body?.transformToByteArray()) ?? new Uint8Array(0));
        startAfter = Key;
      }
      if (!page.IsTruncated) return objects;
    }
  }

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'blockvfs-s3-interop-'));
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  itWithSqlite3(needsSqlite3('writes <name>/<10-digit block> objects of 4096 bytes that concatenate to the database file'), async () => {
    const s = store('interop-write');
    const name = 'interop.db';
    const db = await openDatabase({ layout: 'direct', store: s, name, pageSize: BLOCK, blockSize: BLOCK });
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n REAL)');
    await db.transaction(async () => {
      for (let i = 1; i <= 600; i++) await db.run('INSERT INTO t (v, n) VALUES (?, ?)', [`value ${i} `.repeat(1 + (i % 9)), i / 8]);
    });
    await db.run('UPDATE t SET v = upper(v) WHERE id % 10 = 0');
    const ours = await db.all('SELECT count(*) AS n, sum(length(v)) AS len, sum(n) AS total, max(v) AS top FROM t');
    await db.close();

    const objects = await rawObjects(s.prefix);
    const keys = [...objects.keys()].map((key) => key.slice(s.prefix.length));
    // Nothing but the database's blocks: the DELETE-mode journal is gone after the commit.
    expect(keys.length).toBeGreaterThan(10);
    expect(keys).toEqual(keys.map((_, i) => blockKey(name, i)));
    const blocks = [...objects.values()];
    for (const [i, block] of blocks.slice(0, -1).entries()) expect(block.length, `block ${i}`).toBe(BLOCK);
    expect(blocks.at(-1)?.length).toBeGreaterThan(0);
    expect(blocks.at(-1)?.length).toBeLessThanOrEqual(BLOCK);
    const file = Buffer.concat(blocks);
    expect(file.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect(file.readUInt16BE(16)).toBe(BLOCK); // page size in the header
    expect(file.readUInt32BE(28) * BLOCK).toBe(file.length); // "database size in pages" matches

    // The same bytes as @blockvfs/serialize reads back through the store.
    const chunks: Uint8Array[] = [];
    for await (const chunk of serialize({ layout: 'direct', store: s, name })) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(file)).toBe(true);

    // And a database the sqlite3 shell accepts, with the same contents.
    const path = join(scratch, 'interop.db');
    writeFileSync(path, file);
    expect(sqlite3Json(path, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(sqlite3Json(path, 'SELECT count(*) AS n, sum(length(v)) AS len, sum(n) AS total, max(v) AS top FROM t')).toEqual(ours);
  });

  itWithSqlite3(needsSqlite3('opens a database uploaded as sqlite-s3vfs stores it (a sqlite3-shell file in 4096-byte blocks)'), async () => {
    const path = join(scratch, 'fixture.db');
    execFileSync('sqlite3', [
      path,
      `PRAGMA page_size = ${BLOCK};
       CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL);
       WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
         INSERT INTO fruit SELECT x, printf('fruit-%05d-%s', x, hex(randomblob(8))), x * 1.25 FROM c;
       CREATE INDEX fruit_name ON fruit (name);`,
    ]);
    const file = readFileSync(path);
    expect(file.length % BLOCK).toBe(0);
    const s = store('interop-read');
    const name = 'fixture.db';
    for (let i = 0; i * BLOCK < file.length; i++) {
      await suite.client.send(
        new PutObjectCommand({ Bucket: target.bucket, Key: s.prefix + blockKey(name, i), Body: file.subarray(i * BLOCK, (i + 1) * BLOCK) }),
      );
    }

    const queries = [
      'SELECT count(*) AS n, sum(price) AS total, min(name) AS first, max(name) AS last FROM fruit',
      "SELECT id, name, price FROM fruit WHERE name >= 'fruit-01500' ORDER BY name LIMIT 5",
      'SELECT id, price FROM fruit WHERE id IN (1, 777, 3000) ORDER BY id',
    ];
    const db = await openDatabase({ layout: 'direct', store: s, name, blockSize: BLOCK, readOnly: true });
    expect(await db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    for (const sql of queries) expect(await db.all(sql), sql).toEqual(sqlite3Json(path, sql));
    await db.close();
  });
});
