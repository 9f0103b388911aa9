// The pack-and-install check (part of `pnpm test`): what a user gets from the registry.
//
// Packs every public package with `pnpm pack` (which runs its prepack: a build, the
// license), checks each tarball (no `workspace:` range, no private package named, dist
// and types present, LICENSE and README included), installs the tarballs with plain npm
// into a new app outside the workspace (with the cloud SDKs the user brings, at our
// peer ranges), type-checks a strict TypeScript consumer there (interface row types,
// `await using`), runs it as ESM, runs a CommonJS consumer through require(), and runs
// the `blockvfs` command with npx (export and import through a folder).
//
//   node scripts/pack-check.mjs [--keep]     (--keep leaves the app's folder for a look)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const step = (what) => console.log(`[pack-check ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${what}`);
const run = (command, args, cwd) => execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fail = (message) => {
  console.error(`pack-check: ${message}`);
  process.exit(1);
};

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);
const privateNames = new Set(
  readdirSync(join(root, 'packages'))
    .map((dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')))
    .filter((manifest) => manifest.private)
    .map((manifest) => manifest.name),
);

/** An application's use of the packages, as the READMEs show it, in strict TypeScript. */
const CONSUMER_TS = `
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { ContainerClient } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { BlockVfsError, isBlockVfsError, withRetry, type BlockStore } from '@blockvfs/core';
import { LayeredStore, keyProblem, type ByteRange } from '@blockvfs/core/store';
import { withFaults } from '@blockvfs/core/testing';
import { deserialize, serialize } from '@blockvfs/serialize';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { defineStoreConformanceTests } from '@blockvfs/store-conformance';
import { FsStore } from '@blockvfs/store-fs';
import { GcsStore } from '@blockvfs/store-gcs';
import { MemoryStore } from '@blockvfs/store-memory';
import { S3Store } from '@blockvfs/store-s3';
import { openDatabase, type Database } from '@blockvfs/vfs-wasqlite';

/** A store author's store, from @blockvfs/core/store: its requests, with core's retry stacked once over them. */
class RetryingStore extends LayeredStore {
  constructor(requests: BlockStore) {
    super(requests, { retry: { retries: 2 } });
  }
  override async get(key: string, range?: ByteRange): Promise<Uint8Array | undefined> {
    const problem = keyProblem(key);
    if (problem) throw new BlockVfsError('invalid', problem, { source: 'consumer', store: this.name });
    return super.get(key, range);
  }
}

interface Note {
  id: number;
  body: string;
}

const folder = await mkdtemp(join(tmpdir(), 'blockvfs-consumer-'));
try {
  {
    await using db: Database = await openDatabase({ store: new FsStore({ root: folder }), name: 'notes.db' });
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    await db.run('INSERT INTO notes (body) VALUES (?)', ['hello']);
    const notes: Note[] = await db.all<Note>('SELECT id, body FROM notes');
    const first: Note | undefined = await db.get<Note>('SELECT id, body FROM notes WHERE id = ?', [1]);
    if (notes.length !== 1 || first?.body !== 'hello') throw new Error('unexpected rows: ' + JSON.stringify(notes));
  }
  const copy: BlockStore = withRetry(new RetryingStore(withFaults(new MemoryStore(), { at: [] })));
  const chunks: Uint8Array[] = [];
  for await (const chunk of serialize({ store: new FsStore({ root: folder }), name: 'notes.db' })) chunks.push(chunk);
  await deserialize({ store: copy, name: 'copy.db', source: chunks });
  const reopened = await openDatabase({ store: copy, name: 'copy.db', readOnly: true });
  const row = await reopened.get<Note>('SELECT id, body FROM notes');
  await reopened.close();
  if (row?.body !== 'hello') throw new Error('the copy lost its row');
  // The cloud stores take the user's own clients (constructed here, never sent a request).
  const stores: BlockStore[] = [
    new S3Store({ client: new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), bucket: 'b' }),
    new GcsStore({ bucket: new Storage({ apiEndpoint: 'http://127.0.0.1:9', projectId: 'p' }).bucket('b') }),
    new AzureBlobStore({ container: new ContainerClient('http://127.0.0.1:9/account/container') }),
  ];
  if (stores.length !== 3 || typeof defineStoreConformanceTests !== 'function') throw new Error('missing exports');
  const error: unknown = await openDatabase({ store: new MemoryStore(), name: '' }).catch((e: unknown) => e);
  if (!(error instanceof BlockVfsError) || !isBlockVfsError(error, 'invalid')) throw new Error('an empty name should be an invalid BlockVfsError');
  console.log('esm consumer ok');
} finally {
  await rm(folder, { recursive: true, force: true });
}
`;

/** The same packages through require() (Node's require of ES modules). */
const CONSUMER_CJS = `
const { MemoryStore } = require('@blockvfs/store-memory');
const { openDatabase } = require('@blockvfs/vfs-wasqlite');
const { isBlockVfsError } = require('@blockvfs/core');
for (const entry of ['@blockvfs/core/store', '@blockvfs/core/format', '@blockvfs/core/testing']) {
  if (Object.keys(require(entry)).length === 0) throw new Error(entry + ' exports nothing through require()');
}
const { serialize } = require('@blockvfs/serialize');
for (const name of ['@blockvfs/store-fs', '@blockvfs/store-s3', '@blockvfs/store-gcs', '@blockvfs/store-azure', '@blockvfs/store-conformance']) {
  if (Object.keys(require(name)).length === 0) throw new Error(name + ' exports nothing through require()');
}
(async () => {
  const db = await openDatabase({ store: new MemoryStore(), name: 'cjs.db' });
  await db.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('from require')");
  const row = await db.get('SELECT x FROM t');
  await db.close();
  if (row.x !== 'from require' || typeof isBlockVfsError !== 'function' || typeof serialize !== 'function') throw new Error('unexpected');
  console.log('cjs consumer ok');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

const app = mkdtempSync(join(tmpdir(), 'blockvfs-pack-check-'));
try {
  // 1. Pack, and look inside each tarball.
  const packs = join(app, 'packs');
  mkdirSync(packs);
  const tarballs = {};
  for (const { dir, manifest } of packages) {
    step(`packing ${manifest.name}`);
    const before = new Set(readdirSync(packs));
    run('pnpm', ['pack', '--pack-destination', packs], dir);
    const made = readdirSync(packs).find((file) => !before.has(file));
    if (!made) fail(`pnpm pack made no tarball for ${manifest.name}`);
    tarballs[manifest.name] = join(packs, made);
    const listing = run('tar', ['tzf', tarballs[manifest.name]]).split('\n');
    for (const wanted of ['package/package.json', 'package/LICENSE', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts']) {
      if (!listing.includes(wanted)) fail(`${manifest.name}: the tarball has no ${wanted.slice('package/'.length)}`);
    }
    const packed = JSON.parse(run('tar', ['xzf', tarballs[manifest.name], '-O', 'package/package.json']));
    const named = { ...packed.dependencies, ...packed.devDependencies, ...packed.peerDependencies, ...packed.optionalDependencies };
    for (const [name, range] of Object.entries(named)) {
      if (String(range).startsWith('workspace:')) fail(`${manifest.name}: ${name} is still "${range}" in the packed package.json`);
      if (privateNames.has(name)) fail(`${manifest.name}: the packed package.json names the private package ${name}`);
    }
    for (const field of ['description', 'license', 'homepage', 'engines'])
      if (!packed[field]) fail(`${manifest.name}: the packed package.json has no "${field}"`);
    if (!packed.exports?.['.']) fail(`${manifest.name}: its package.json has no exports["."]`);
    for (const [subpath, entry] of Object.entries(packed.exports)) {
      for (const condition of ['types', 'import', 'default']) {
        if (!entry?.[condition]) fail(`${manifest.name}: exports["${subpath}"] has no "${condition}" condition`);
        else if (!listing.includes(`package/${entry[condition].slice(2)}`))
          fail(`${manifest.name}: exports["${subpath}"].${condition} names ${entry[condition]}, which is not in the tarball`);
      }
    }
  }

  // 2. A fresh app outside the workspace: the tarballs, and the SDKs the user brings, at the peer ranges.
  const peers = {};
  for (const { manifest } of packages) Object.assign(peers, manifest.peerDependencies);
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'blockvfs-consumer',
        private: true,
        type: 'module',
        dependencies: { ...Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`])), ...peers },
        devDependencies: { typescript: rootManifest.devDependencies.typescript, '@types/node': rootManifest.devDependencies['@types/node'] },
      },
      null,
      2,
    ),
  );
  step('npm install (tarballs, cloud SDKs, typescript)');
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
  const cores = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (path.endsWith(join('@blockvfs', 'core')) && existsSync(join(path, 'package.json'))) cores.push(path);
      walk(path);
    }
  };
  walk(join(app, 'node_modules'));
  if (cores.length !== 1) fail(`expected one copy of @blockvfs/core in the app, found ${cores.length}: ${cores.join(', ')}`);

  // 3. A strict TypeScript consumer, compiled and run as ESM.
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        outDir: 'out',
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    }),
  );
  writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
  writeFileSync(join(app, 'consumer.cjs'), CONSUMER_CJS);
  step('tsc (strict, skipLibCheck off)');
  run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], app);
  step('node out/consumer.js (ESM)');
  const esm = run(process.execPath, ['out/consumer.js'], app);
  if (!esm.includes('esm consumer ok')) fail(`the ESM consumer said: ${esm}`);
  step('node consumer.cjs (require)');
  const cjs = run(process.execPath, ['consumer.cjs'], app);
  if (!cjs.includes('cjs consumer ok')) fail(`the CommonJS consumer said: ${cjs}`);
  // 4. The command line from the tarball, as `npx blockvfs` runs it: a file in, a database on a folder, the same file out.
  step('npx blockvfs (the command line)');
  const npx = (args) => run('npx', ['--no-install', 'blockvfs', ...args], app);
  if (!npx(['--help']).includes('Commands:')) fail('npx blockvfs --help lists no commands');
  npx(['sql', '--create', 'cli-data/in.db', "CREATE TABLE t (x); INSERT INTO t VALUES ('from the command line')"]);
  npx(['--quiet', 'export', 'cli-data/in.db', 'cli.sqlite']);
  npx(['--quiet', 'import', 'cli.sqlite', 'file:cli-data/out.db']);
  const cliRows = npx(['sql', '--format', 'json', 'cli-data/out.db', 'SELECT x FROM t']);
  if (cliRows.trim() !== '[{"x":"from the command line"}]') fail(`npx blockvfs sql answered: ${cliRows}`);
  step(`${packages.length} packages pack, install and run: ${packages.map(({ manifest }) => manifest.name).join(', ')}`);
} catch (error) {
  const detail = error.stderr ? `\n${error.stderr}` : '';
  fail(`${error.message}${detail}`);
} finally {
  if (keep) console.log(`pack-check: the app is in ${app}`);
  else rmSync(app, { recursive: true, force: true });
}
