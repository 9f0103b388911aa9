#!/usr/bin/env node
// The mutation check: disables each safety check of the atomic layout, the VFS and export in
// turn, in a copy of the working tree, and runs the tests that should see it. Each
// mutation must make a test fail ("caught"); one that passes every test means a check
// that no test can see, which is a hole in the tests, whatever the code does.
//
//   pnpm test:mutations                 every mutation
//   pnpm test:mutations -- gap-window   only those whose id contains "gap-window"
//
// Exit status 1 when the unmutated tests fail or any mutation survives.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SAFETY = 'packages/core/test/atomic-safety.test.ts';
const TRUST = 'packages/test-workloads/test/trust.test.ts';
const HISTORY = 'packages/core/src/atomic/history.ts';
const FORMAT = 'packages/core/src/atomic/atomic-format.ts';
const VFS = 'packages/vfs-wasqlite/src/vfs/base-vfs.ts';
const ATOMIC = 'packages/vfs-wasqlite/src/vfs/atomic-vfs.ts';
const DIRECT = 'packages/vfs-wasqlite/src/vfs/direct-vfs.ts';
const FINDINGS = 'packages/simulation/test/findings.test.ts';
const MANY = 'packages/vfs-wasqlite/test/many.test.ts';
const SPECULATION = 'packages/vfs-wasqlite/test/speculative-reads.test.ts';

/** Each: what the check guards, where it is, the text that disables it, and the tests that must notice. */
const MUTATIONS = [
  // The ten the trust issue named.
  {
    id: 'gap-window',
    what: 'catch-up stops at the first missing record of a fetch window',
    file: HISTORY,
    find: '      if (record === undefined) return records;',
    replace: '      if (record === undefined) continue;',
    also: [
      [
        '    window = Math.min(window * 2, MAX_PROBE_WINDOW);',
        '    if (fetched.includes(undefined)) return records;\n    window = Math.min(window * 2, MAX_PROBE_WINDOW);',
      ],
    ],
    tests: [SAFETY],
  }, // the rest of the window is applied, then the catch-up ends
  {
    id: 'block-size',
    what: 'every record agrees with the file’s block size',
    file: HISTORY,
    find: '    if (record.blockSize !== blockSize) {',
    replace: '    if (false) {',
    tests: [SAFETY],
  },
  {
    id: 'old-view-head',
    what: 'a refresh of a view older than a minute re-reads the head (and lists past its end)',
    file: FORMAT,
    find: '    if (started - this.#confirmedAt <= VIEW_TRUST_MS) {',
    replace: '    if (true) {',
    tests: [SAFETY, TRUST],
  },
  {
    id: 'old-view-commit',
    what: 'a commit on a view older than a minute looks for other commits first',
    file: FORMAT,
    find: '    if (this.#clock.now() - this.#confirmedAt > VIEW_TRUST_MS && (await this.#refreshNow())) {',
    replace: '    if (false) {',
    tests: [SAFETY, TRUST],
  },
  {
    id: 'open-head-again',
    what: 'an open reads the head again after catching up (a collection meanwhile)',
    file: HISTORY,
    find: '    let moved = again && (again.checkpoint > state.seq || again.oldest > from) ? again : undefined;',
    replace: '    let moved: typeof again = undefined;',
    tests: [SAFETY],
  },
  {
    id: 'stale-look',
    what: 'after a lost or unknown commit the next refresh looks, whatever the freshness',
    file: FORMAT,
    find: '    if (this.#stale) return true;',
    replace: '',
    tests: [SAFETY, TRUST],
  },
  {
    id: 'head-conditional',
    what: 'head updates are conditional (ifMatch), so the head never goes back',
    file: HISTORY,
    find: '        : { ifMatch: current.etag as string };',
    replace: '        : undefined;',
    tests: [SAFETY],
  },
  {
    id: 'vfs-fence',
    what: 'after a failed commit the VFS ignores the transaction’s writes and fails its syncs until it unlocks',
    file: ATOMIC,
    find: '      if (failed) return this.fail(failed.error, failed.code);',
    replace: '',
    also: [['    return this.#failed.has(open.key);', '    return false;']],
    tests: [TRUST],
  },
  {
    id: 'staged-seq',
    what: 'blocks staged for one seq are never committed under another',
    file: FORMAT,
    find: "    if (attempt && attempt.seq !== seq) throw this.#conflict(seq, 'while this transaction ran');",
    replace: '',
    tests: [SAFETY],
  },
  {
    id: 'never-back',
    what: 'a reload never goes back behind what the process knows',
    file: HISTORY,
    find: '  if (known && state.seq < known.seq) state = copyState(known);',
    replace: '',
    tests: [SAFETY],
  },
  {
    id: 'lease-half-ttl',
    what: 'the lease is renewed when half its ttl is left',
    file: 'packages/core/src/atomic/lease.ts',
    find: 'this.#expires - this.#clock.now() > this.ttlMs / 2',
    replace: 'this.#expires - this.#clock.now() > 0',
    tests: [SAFETY],
  },
  // Checks this issue added.
  {
    id: 'recent-version',
    what: 'PagedFile’s copies of committed blocks are tied to the commit they came from',
    file: 'packages/core/src/paged-file.ts',
    find: '    return this.#recent.version === this.#format.version ? this.#recent.blocks.get(index) : undefined;',
    replace: '    return this.#recent.blocks.get(index);',
    tests: [TRUST],
  },
  {
    id: 'gap-damage',
    what: 'a missing record with later ones present is damage, not the end of history',
    file: HISTORY,
    find: '      if (!moved) {',
    replace: '      if (!moved) return { state, head: again };\n      if (false) {',
    tests: [TRUST],
  },
  {
    id: 'block-length',
    what: 'a block object must have exactly its block’s length',
    file: FORMAT,
    find: '      if (bytes.length !== length) problem =',
    replace: '      if (false) problem =',
    tests: [TRUST],
  },
  {
    id: 'block-crc',
    what: 'a block object must match the CRC-32C its commit recorded',
    file: FORMAT,
    find: '      else if (crc !== undefined && crc32c(bytes) !== crc)\n',
    replace: '      else if (false)\n',
    tests: [TRUST],
  },
  {
    id: 'length-invariant',
    what: 'a commit that changes the size rewrites the partial last block itself',
    file: FORMAT,
    find: '      if (change.blocks.has(index) || after === 0) continue;',
    replace: '      continue;',
    tests: [SAFETY, 'packages/core/test/paged-file-model.test.ts'],
  },
  {
    id: 'no-cache',
    what: 'the atomic layout refuses a store wrapped in withCache (stale head and lease)',
    file: FORMAT,
    find: '  if (isCachedStore(store)) {',
    replace: '  if (false) {',
    tests: [TRUST],
  },
  {
    id: 'lease-void',
    what: 'a lease far past the ttl bound is void',
    file: 'packages/core/src/atomic/lease.ts',
    find: '  return lease.expires > now && lease.expires - now <= LEASE_VOID_BEYOND;',
    replace: '  return lease.expires > now;',
    tests: [TRUST],
  },
  {
    id: 'damage-permanent',
    what: 'a head naming a checkpoint that is gone, with the log unable to rebuild it, is permanent damage',
    file: HISTORY,
    find: '    if (moved.checkpoint === missing) {',
    replace: '    if (false) {',
    tests: [TRUST],
  },
  {
    id: 'collector-gap',
    what: 'a record the collector needs that is missing is damage unless a collection moved the head past it',
    file: HISTORY,
    find: '  if (head && head.oldest >= seq) {',
    replace: '  if (true) {',
    tests: [SAFETY],
  },
  // Checks the simulation's findings added.
  {
    id: 'old-view-oldest',
    what: 'an old view applies no record at or below the head’s oldest (a late create-if-absent PUT)',
    file: FORMAT,
    find: 'head.oldest > before)',
    replace: 'false)',
    tests: [FINDINGS],
  },
  {
    id: 'load-oldest',
    what: 'a load starts over when the head’s oldest passed where its catch-up began',
    file: HISTORY,
    find: ' || again.oldest > from) ? again',
    replace: ') ? again',
    tests: [SAFETY, FINDINGS],
  },
  {
    id: 'unknown-outcome',
    what: 'a record put whose read-back fails is an unknown outcome, never a loss (its blocks stay)',
    file: FORMAT,
    find: '        throw this.#unknownOutcome(record.seq, error, readError);',
    replace: '        throw error;',
    tests: [FINDINGS],
  },
  {
    id: 'checkpoint-stale',
    what: 'no checkpoint is written for a view older than the head’s oldest',
    file: FORMAT,
    find: '      if (head && head.oldest > seq) return;',
    replace: '',
    tests: [SAFETY],
  },
  {
    id: 'tail-cleanup',
    what: 'the truncation after a shrinking commit is committed on its own',
    file: ATOMIC,
    find: '      else if (!open.file.dirty && (await isTailCleanup(open.file, size)))',
    replace: '      else if (false)',
    tests: [TRUST, FINDINGS],
  },
  {
    id: 'unlock-discard',
    what: 'a finished write transaction leaves nothing unsynced (a dirty file never refreshes)',
    file: ATOMIC,
    find: '    if (wrote && open.file.dirty) open.file.discard();',
    replace: '',
    tests: [TRUST, FINDINGS],
  },
  {
    id: 'journal-relearn',
    what: 'the direct layout re-learns its journal at every open',
    file: DIRECT,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text to find, not a template
    find: '    this.files.markUncertain(`${filename}-journal`);',
    replace: '',
    tests: [TRUST],
  },
  {
    id: 'journal-names',
    what: 'a database named like another database’s journal is refused',
    file: 'packages/vfs-wasqlite/src/database-name.ts',
    find: '  const suffix = RESERVED_SUFFIXES.find((reserved) => name.endsWith(reserved));',
    replace: '  const suffix = undefined as string | undefined;',
    tests: [TRUST],
  },
  {
    id: 'lock-holder',
    what: "SQLite's locks are held by a handle number unique in the process, not a module's fileId",
    file: VFS,
    find: 'holder: lockHolders,',
    replace: 'holder: fileId,',
    tests: [MANY],
  },
  {
    id: 'busy-undone',
    what: 'an autocommit call is run again on SQLITE_BUSY only when SQLite left nothing of it done',
    file: 'packages/vfs-wasqlite/src/database.ts',
    find: '&& this.#sqlite.api.get_autocommit(this.#db) !== 0 && !this.#inTransactionScope()',
    replace: '',
    tests: [MANY],
  },
  // Reads that do not wait for their look for new commits (AtomicVFS.speculate).
  {
    id: 'speculation-rerun',
    what: 'a call whose look found a newer commit runs again instead of returning what it read before',
    file: 'packages/vfs-wasqlite/src/database.ts',
    find: '      if (moved) return this.#call(task, true);',
    replace: '',
    tests: [SPECULATION],
  },
  {
    id: 'speculation-in-flight',
    what: 'a read transaction waits for a look still in flight on its file before it reads',
    file: ATOMIC,
    find: '    if (inFlight) return inFlight.then',
    replace: '    if (inFlight && false) return inFlight.then',
    tests: [SPECULATION],
  },
  // Pages of a database replaced other than through SQLite.
  {
    id: 'import-counter',
    what: "an import over an existing database moves SQLite's change counter past the replaced one's, so open connections drop their cached pages",
    file: 'packages/serialize/src/deserialize.ts',
    find: '  if (pastCounter !== undefined) setChangeCounterPast(data, pastCounter);',
    replace: '',
    tests: ['packages/serialize/test/replace.test.ts'],
  },
  // A block buffer PagedFile takes over from the latest commit instead of copying it.
  {
    id: 'recent-takeover',
    what: 'a committed block taken over for changing is no longer read as committed (a rollback must not see the changes)',
    file: 'packages/core/src/paged-file.ts',
    find: '      this.#recent.blocks.delete(index);\n      this.#dirty.set(index, recent);',
    replace: '      this.#dirty.set(index, recent);',
    tests: ['packages/core/test/paged-file.test.ts'],
  },
  {
    id: 'restore-counter',
    what: "a restore moves SQLite's change counter past the newest state's, so open connections drop their cached pages",
    file: 'packages/core/src/atomic/restore.ts',
    find: '    if (past !== undefined) {',
    replace: '    if (past !== undefined && false) {',
    tests: ['packages/core/test/atomic-inspect.test.ts'],
  },
  // Segmented checkpoints: a segment loaded after commits must not undo them.
  {
    id: 'segment-merge',
    what: 'a checkpoint segment loaded after a shrink keeps none of its blocks past the smallest size since',
    file: 'packages/core/src/atomic/block-map.ts',
    find: 'if (index < this.#limit && !this.#entries.has(index))',
    replace: 'if (!this.#entries.has(index))',
    tests: ['packages/core/test/segmented-checkpoint.test.ts'],
  },
  {
    id: 'hot-folded',
    what: "a checkpoint root copies its hot blocks' entries after folding (the block objects, with their checksums), as its segments hold them",
    file: HISTORY,
    find: 'entries.filter(([index]) => state.hot.has(index))',
    replace: 'all.filter(([index]) => state.hot.has(index))',
    tests: ['packages/vfs-wasqlite/test/hot-blocks.test.ts'],
  },
  {
    id: 'hot-check',
    what: "a checkpoint root whose hot entry differs from its segment's is damage",
    file: HISTORY,
    find: '    if (entry?.seq === hot.seq && entry.tag === hot.tag && entry.crc === hot.crc) continue;',
    replace: '    continue;',
    tests: ['packages/core/test/segmented-checkpoint.test.ts'],
  },
  {
    id: 'segment-fallback',
    what: 'a segment collected with its checkpoint is read from a newer checkpoint at or before the view',
    file: HISTORY,
    find: '      const candidates = strict ? [] : (head?.checkpoints ?? []).filter((c) => c > checkpoint.seq && c <= atMost);',
    replace: '      const candidates: number[] = [];',
    tests: ['packages/core/test/segmented-checkpoint.test.ts'],
  },
  {
    id: 'read-ahead-handled',
    what: 'a block serialize reads ahead and that fails before the consumer comes to it is no unhandled rejection (which ends a Node process)',
    file: 'packages/serialize/src/serialize.ts',
    find: '    read.catch(() => undefined);\n',
    replace: '',
    tests: ['packages/serialize/test/serialize.test.ts'],
  },
  {
    id: 'head-listed-etag',
    what: 'a head the listing missed and the read found (made in between) is looked at again, not put without a condition',
    file: HISTORY,
    find: '    if (store.capabilities.conditionalPut && current.head !== undefined && current.etag === undefined) {',
    replace: '    if (false) {',
    also: [['        : { ifMatch: current.etag as string };', '        : current.etag === undefined ? undefined : { ifMatch: current.etag };']],
    tests: ['packages/core/test/atomic-history.test.ts'],
  },
];

const filter = process.argv.slice(2).filter((arg) => arg !== '--');
const chosen = filter.length === 0 ? MUTATIONS : MUTATIONS.filter((m) => filter.some((f) => m.id.includes(f)));

/** A copy of the working tree (tracked and new files, not ignored ones) with node_modules linked in. */
function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'blockvfs-mutations-'));
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(root, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(root, file), join(dir, file));
  }
  const link = (path) => existsSync(join(root, path)) && symlinkSync(join(root, path), join(dir, path), 'dir');
  link('node_modules');
  for (const name of readdirSync(join(root, 'packages'))) link(join('packages', name, 'node_modules'));
  return dir;
}

/** Runs vitest on `tests` in `dir`: whether they passed, the first failing test's name, and the time taken. */
function run(dir, tests) {
  const started = Date.now();
  // The Node running this script runs vitest too (the project's Node 24, not whatever `node` the PATH finds first).
  const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs');
  const result = spawnSync(process.execPath, [vitest, 'run', '--project', 'local', '--reporter', 'dot', ...tests], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '', FORCE_COLOR: '0', NO_COLOR: '1' },
    timeout: 10 * 60_000, // a mutation that makes a test hang is caught too, once vitest's own timeouts fire
  });
  const output = `${result.stdout}\n${result.stderr}`;
  const failed = /FAIL .*?> (.*)/.exec(output)?.[1]?.trim();
  return { passed: result.status === 0, failed, seconds: (Date.now() - started) / 1000, output };
}

const dir = sandbox();
let survivors = 0;
try {
  const allTests = [...new Set(chosen.flatMap((m) => m.tests))];
  const baseline = run(dir, allTests);
  if (!baseline.passed) {
    console.error(baseline.output);
    console.error('mutation check: the tests fail without any mutation; fix them first');
    process.exit(1);
  }
  console.log(`baseline: ${allTests.join(', ')} pass (${baseline.seconds.toFixed(1)} s)\n`);
  console.log('| mutation | what it disables | caught by | s |');
  console.log('|---|---|---|---|');
  for (const mutation of chosen) {
    const path = join(dir, mutation.file);
    const original = readFileSync(path, 'utf8');
    let mutated = original;
    let moved;
    for (const [find, replace] of [[mutation.find, mutation.replace], ...(mutation.also ?? [])]) {
      const count = mutated.split(find).length - 1;
      if (count !== 1) moved = `${JSON.stringify(find)} occurs ${count} times in ${mutation.file}, not once: the code moved, update scripts/mutation-check.mjs`;
      else mutated = mutated.replace(find, () => replace);
    }
    if (moved) {
      survivors += 1;
      console.log(`| ${mutation.id} | ${mutation.what} | **${moved}** | |`);
      continue;
    }
    writeFileSync(path, mutated);
    try {
      const outcome = run(dir, mutation.tests);
      if (outcome.passed) survivors += 1;
      const caught = outcome.passed ? '**not caught**' : (outcome.failed ?? 'a test (see output)').replace(/\|/g, '\\|');
      console.log(`| ${mutation.id} | ${mutation.what} | ${caught} | ${outcome.seconds.toFixed(1)} |`);
    } finally {
      writeFileSync(path, original);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${chosen.length - survivors} of ${chosen.length} mutations caught`);
process.exit(survivors === 0 ? 0 : 1);
