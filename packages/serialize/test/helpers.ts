import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { changeCounterOf, directBlockKey } from '@blockvfs/core/format';
import type { BlockStore } from '@blockvfs/core';

/**
 * Test fixtures built with the real `sqlite3` shell, and small tools to look at a
 * store as a whole.
 */

/** Runs the sqlite3 shell on `path` with `sql` on stdin and returns what it prints. */
export function shell(path: string, sql: string, ...flags: string[]): string {
  return execFileSync('sqlite3', [...flags, path], { input: sql, encoding: 'utf8', maxBuffer: 1 << 30 });
}

/** Rows of a query, as the shell reports them (JSON: every value a number or a string). */
export function shellRows(path: string, sql: string): Record<string, unknown>[] {
  const out = shell(path, sql, '-json').trim();
  return out === '' ? [] : (JSON.parse(out) as Record<string, unknown>[]);
}

/**
 * `file` as an import stores it over a database whose file was `replaced`: with its
 * change counter one past both files' (and the version-valid-for number with it, as
 * SQLite keeps them), so that no connection mistakes it for the database it last read.
 */
export function asReplacing(file: Uint8Array, replaced: Uint8Array): Uint8Array {
  const copy = file.slice();
  const view = new DataView(copy.buffer);
  const counter = Math.max(changeCounterOf(file) ?? 0, changeCounterOf(replaced) ?? 0) + 1;
  view.setUint32(24, counter);
  view.setUint32(92, counter);
  return copy;
}

/**
 * A database with several tables, an index, a blob column (some blobs larger than a
 * small page, so there are overflow pages) and `rows` books, made by the shell.
 */
export function makeShellDatabase(path: string, pageSize: number, rows = 3000): Uint8Array {
  shell(
    path,
    `PRAGMA page_size = ${pageSize};
     CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
     CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id), title TEXT, cover BLOB, price INTEGER);
     CREATE TABLE tags (book_id INTEGER, tag TEXT, PRIMARY KEY (book_id, tag)) WITHOUT ROWID;
     CREATE INDEX books_by_author ON books(author_id, title);
     BEGIN;
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
       INSERT INTO authors SELECT i, 'author ' || i FROM n;
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
       INSERT INTO books SELECT i, 1 + i % 50, printf('book %05d', i), randomblob(i % 997), i * 7 % 1000 FROM n;
     INSERT INTO tags SELECT id, 'tag' || (id % 13) FROM books;
     INSERT OR IGNORE INTO tags SELECT id, 'tag' || (id % 7) FROM books;
     COMMIT;`,
  );
  return new Uint8Array(readFileSync(path));
}

/** The queries whose rows must survive every round trip (blobs as hex, so both sides print text). */
export const CHECK_QUERIES = [
  'SELECT id, name FROM authors ORDER BY id',
  'SELECT id, author_id, title, hex(cover) AS cover, price FROM books ORDER BY id',
  'SELECT book_id, tag FROM tags ORDER BY book_id, tag',
  'SELECT author_id, count(*) AS n, sum(length(cover)) AS bytes FROM books INDEXED BY books_by_author GROUP BY author_id ORDER BY author_id',
];

/** Splits `bytes` into chunks of `size` (the last shorter); each chunk a copy, as a stream would hand them over. */
export function* chunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.slice(offset, offset + size);
}

export async function concat(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** Every key of the store with its bytes, to prove that a failed call changed nothing. */
export async function snapshot(store: BlockStore): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for await (const { key } of store.list('')) {
    const bytes = await store.get(key);
    all.set(key, Buffer.from(bytes ?? []).toString('hex'));
  }
  return all;
}

/** The direct-layout block keys of file `name`, with their sizes. */
export async function blockSizes(store: BlockStore, name: string): Promise<number[]> {
  const sizes: number[] = [];
  for await (const entry of store.list(`${name}/`)) sizes.push(entry.size);
  return sizes;
}

/** A digest to compare files by: vitest's deep equality walks megabytes byte by byte, and its diff of them helps nobody. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A real hot journal of database `path`: the rollback journal as it stands in the middle
 * of a transaction (copied by the shell's `.system` while the transaction is open), i.e.
 * what a writer that crashed mid-commit leaves behind. synchronous=OFF makes SQLite write
 * the record count as "to the end of the file", so that a later open plays it back.
 * The transaction is then rolled back, so the database file itself is unchanged.
 */
export function makeHotJournal(path: string): Uint8Array {
  const copy = `${path}.hot-journal`;
  shell(path, `PRAGMA synchronous = OFF;\nBEGIN;\nUPDATE books SET title = 'changed', cover = NULL;\n.system cp '${path}-journal' '${copy}'\nROLLBACK;\n`);
  return new Uint8Array(readFileSync(copy));
}

/** Stores `bytes` as file `name` in the direct layout (as the VFS would have written it), in blocks of `blockSize`. */
export async function putFile(store: BlockStore, name: string, bytes: Uint8Array, blockSize: number): Promise<void> {
  for (let index = 0; index * blockSize < bytes.length; index++) {
    await store.put(directBlockKey(name, index), bytes.slice(index * blockSize, (index + 1) * blockSize));
  }
}
