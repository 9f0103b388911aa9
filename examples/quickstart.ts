// blockvfs quickstart: an SQLite database kept as blocks in a store, then exported as
// one plain .sqlite file that any SQLite tool opens.
//
// The store here is a local folder (FsStore). Put S3Store, GcsStore or AzureBlobStore in
// its place and nothing else in this file changes.
//
// Run it with `pnpm demo` at the repository root (it builds the packages first).

import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from '@blockvfs/serialize';
import { FsStore } from '@blockvfs/store-fs';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const storeFolder = fileURLToPath(new URL('./out/quickstart-store', import.meta.url));
const exportedFile = fileURLToPath(new URL('./out/quickstart.sqlite', import.meta.url));

// 1. A store. Start from an empty folder on every run.
await rm(storeFolder, { recursive: true, force: true });
const store = new FsStore({ root: storeFolder });

// 2. A database on it, used like any SQLite database.
const db = await openDatabase({ store, name: 'solar-system.db' });
await db.exec('CREATE TABLE planets (name TEXT PRIMARY KEY, moons INTEGER NOT NULL, distance_au REAL NOT NULL)');

const planets: [string, number, number][] = [
  ['Mercury', 0, 0.39],
  ['Venus', 0, 0.72],
  ['Earth', 1, 1.0],
  ['Mars', 2, 1.52],
  ['Jupiter', 95, 5.2],
  ['Saturn', 146, 9.54],
  ['Uranus', 28, 19.2],
  ['Neptune', 16, 30.06],
];
// One transaction: one commit to the store instead of eight.
await db.transaction(async () => {
  for (const planet of planets) await db.run('INSERT INTO planets VALUES (?, ?, ?)', planet);
});

const rows = await db.all<{ name: string; moons: number }>('SELECT name, moons FROM planets WHERE moons > 0 ORDER BY moons DESC');
console.log('Planets with moons:');
for (const { name, moons } of rows) console.log(`  ${name.padEnd(8)} ${moons}`);
await db.close();

// What is on the store: one object per 4 KiB page (SQLite's page size, the default block size).
const keys: string[] = [];
for await (const { key } of store.list('solar-system.db/')) keys.push(key);
console.log(`\nOn the store, the database is ${keys.length} objects: ${keys.join(', ')}`);

// 3. Export it as one plain SQLite file (serialize streams it block by block).
await writeFile(exportedFile, serialize({ store, name: 'solar-system.db' }));
const shown = relative(process.cwd(), exportedFile);
console.log(`Exported to ${shown}`);

// 4. Any SQLite opens that file: ask the sqlite3 shell, if it is installed.
const query = 'SELECT count(*) FROM planets';
const sqlite3 = spawnSync('sqlite3', [exportedFile, query], { encoding: 'utf8' });
if (sqlite3.error) {
  console.log(`Open it with any SQLite tool, e.g.: sqlite3 ${shown} "${query}"`);
} else {
  console.log(`sqlite3 ${shown} "${query}"  →  ${sqlite3.stdout.trim()}`);
}
