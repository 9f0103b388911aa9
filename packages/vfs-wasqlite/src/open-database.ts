import { checkLayout } from '@blockvfs/core/format';
import {
  BlockVfsError,
  DEFAULT_LAYOUT,
  DEFAULT_RETENTION_MS,
  defaultBlockSize,
  isWrongLayoutError,
  type AtomicOptions,
  type BlockStore,
  type Clock,
  type CommitEvent,
  type GarbageReport,
  type Layout,
  type LeaseOptions,
  type RequestEvent,
} from '@blockvfs/core';
import { blockSizeProblem, storeProblem } from '@blockvfs/core/store';
import { BusyRetry, DEFAULT_BUSY_TIMEOUT_MS, busyTimeoutProblem } from './busy-retry.js';
import { toError } from './caller-error.js';
import { Database, stepToEnd } from './database.js';
import { databaseNameProblem } from './database-name.js';
import { observe } from './observe.js';
import { acquireEngine, acquireVfs, releaseEngine } from './runtime.js';
import { BUILDS, type Build } from './wa-sqlite-adapter.js';

const SOURCE = '@blockvfs/vfs-wasqlite';
const OPEN_READONLY = 0x1;
const OPEN_READWRITE = 0x2;
const OPEN_CREATE = 0x4;

/** Defaults, and why. */
export const DEFAULT_PAGE_SIZE = 4096;
/**
 * Page cache per connection, in KiB (SQLite's own default is 2 MiB). Every page
 * missing from the cache costs a store request, so a larger cache pays off more than
 * on a local disk; 16 MiB stays modest in wasm memory (which tops out at 2 GiB).
 * Change it with `PRAGMA cache_size`.
 */
export const DEFAULT_CACHE_KIB = 16 * 1024;

export interface OpenDatabaseOptions {
  /** Where the database lives. */
  store: BlockStore;
  /** The database's name on the store: the prefix of its objects (`<name>/…`). */
  name: string;
  /**
   * On-store layout: `atomic` (the default: all-or-nothing commits, snapshots, safe
   * concurrent writers) or `direct` (sqlite-s3vfs's, for interoperability: one object
   * per block rewritten in place, one writer at a time), for a new database. An
   * existing database opens in the layout it was written in, whatever this says
   * (`db.layout` tells which).
   */
  layout?: Layout;
  /**
   * Block size for a new database file: default 64 KiB in the atomic layout
   * (`DEFAULT_BLOCK_SIZE`, chosen by measurement: bench/RESULTS.md, "Block size"), the
   * page size in the direct layout (as sqlite-s3vfs). An existing database keeps the
   * block size it was written with.
   */
  blockSize?: number;
  /** SQLite page size for a new database (default 4096; a power of two from 512 to 65536). Ignored for an existing database. */
  pageSize?: number;
  /** Open read-only: writes fail with SQLITE_READONLY, and a missing database is a 'not-found' error. */
  readOnly?: boolean;
  /** Which wa-sqlite build runs SQLite (default `asyncify`; `jspi` needs WebAssembly.Suspending). */
  build?: Build;
  /**
   * Atomic layout: hold a writer lease (`<name>/lease`) from the first write until
   * close, renewed while writing (`ttlMs`, default 30 s). Other writers that use leases
   * then get SQLITE_BUSY at once instead of at commit, and this one skips looking for
   * their commits: a single-row commit is then one PUT.
   */
  lease?: boolean | LeaseOptions;
  /**
   * Atomic layout: how old, in ms, a read transaction's view of the database may be.
   * 0 (the default) looks for other writers' commits at the start of every read
   * transaction (one GET); N looks at most every N ms (none in between). For run, get
   * and all outside a transaction, the look is sent with the statement's first block
   * reads and the result held back until it answers (run again if it found a commit).
   */
  freshnessMs?: number;
  /** Atomic layout, with `readOnly`: open the database as it was after this commit number, or at this time. */
  asOf?: number | Date;
  /** Atomic layout: bytes of block objects this process keeps in memory for every connection (default 32 MiB). */
  cacheBytes?: number;
  /**
   * Atomic layout: accept a store without conditional puts, which cannot keep two
   * writers apart; you promise that only one writer ever exists.
   */
  singleWriter?: boolean;
  /**
   * Where time comes from (default the system clock): commit times, the writer lease,
   * `freshnessMs`. Deterministic tests pass a simulated clock; applications leave it out.
   */
  clock?: Clock;
  /**
   * How long, in ms, a transaction or an autocommit statement that gets SQLITE_BUSY (a
   * commit lost to another writer, another writer's lease, a lock another connection
   * holds) is re-run before the SQLITE_BUSY is thrown: after a jittered wait that grows
   * each time. Default 5000 (better-sqlite3's `timeout`); 0 throws at once. A
   * `transaction(fn)` is re-run from its start, so `fn` may run more than once: keep
   * effects outside the database (sending mail, say) out of it. `PRAGMA busy_timeout`
   * reads and sets this same value (it never blocks the process).
   */
  busyTimeoutMs?: number;
  /**
   * Atomic layout, writers: how much history to keep, in ms. After commits (every 1000,
   * or once `retentionMs` has passed, at least hourly and at most every minute), the connection collects garbage in
   * the background, never on a commit's path and one collection per database at a time
   * in the process, so that a busy database's history stays bounded without a cron job.
   * Commits younger than this stay openable with `asOf`. Default 24 hours
   * (`DEFAULT_RETENTION_MS`); `false` keeps all history (collect with collectGarbage).
   */
  retentionMs?: number | false;
  /** Atomic layout: told when a background collection finished (what it deleted). */
  onCollect?: (report: GarbageReport) => void;
  /**
   * Told about each store request this database made, once it finished (operation,
   * key, bytes, ms, outcome): for your logger or metrics. `DEBUG=blockvfs:request`
   * prints the same to standard error without code changes.
   */
  onRequest?: (event: RequestEvent) => void;
  /** Atomic layout: told about each commit this connection made (`DEBUG=blockvfs:commit` prints them). */
  onCommit?: (event: CommitEvent) => void;
}

/** Opens (or creates) a database on a store. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { name } = checkOptions(options);
  const layout = checkLayout(options.layout ?? DEFAULT_LAYOUT);
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const blockSize = options.blockSize ?? defaultBlockSize(layout, pageSize);
  const readOnly = options.readOnly ?? false;
  const engine = await acquireEngine(options.build ?? 'asyncify');
  // From here on every failure path stops the observation (below, or Database.close).
  const observation = observe(options.store, name, { onRequest: options.onRequest, onCommit: options.onCommit });
  const { store } = observation;
  const atomic = atomicOptions(options, observation.onCommit);
  const { sqlite } = engine;
  const busy = new BusyRetry(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, options.clock);

  // page_size only takes effect before the database's first write; for an existing database it does nothing.
  const pragmas = [`PRAGMA cache_size = -${DEFAULT_CACHE_KIB}`, 'PRAGMA temp_store = MEMORY'];
  if (!readOnly) pragmas.unshift(`PRAGMA page_size = ${pageSize}`);
  // The open and its pragmas in one turn of the queue: the pragmas' read transaction
  // (cache_size loads the schema) then uses the view the open just loaded (see BaseVFS.jOpen).
  const openIn = async (layoutNow: Layout, atomicNow: AtomicOptions | undefined): Promise<Database> => {
    const lease = acquireVfs(sqlite, store, { layout: layoutNow, blockSize, atomic: atomicNow, busy });
    const flags = readOnly ? OPEN_READONLY : OPEN_READWRITE | OPEN_CREATE;
    lease.vfs.takeLastError();
    let db: number | undefined;
    try {
      db = await sqlite.api.open_v2(name, flags, lease.vfs.name);
      sqlite.enableExtendedResultCodes(db);
      for await (const stmt of sqlite.api.statements(db, pragmas.join('; '), { unscoped: false })) await stepToEnd(sqlite, stmt);
      return new Database(engine, lease, db, name, busy, observation.stop);
    } catch (error) {
      const failure = toError(error, lease);
      if (db !== undefined) await sqlite.api.close(db).catch(() => undefined);
      lease.release();
      throw failure;
    }
  };
  return engine.queue.run(async () => {
    try {
      try {
        return await openIn(layout, atomic);
      } catch (error) {
        // `layout` chooses for a new database; an existing one opens in the layout it was written in.
        const other = error instanceof Error ? error.cause : undefined;
        if (!isWrongLayoutError(other)) throw error;
        const given = atomicOnlyGiven(options);
        if (other.layout === 'direct' && given.length > 0) {
          throw new BlockVfsError(
            'invalid',
            `database "${name}" was written in the direct layout, and ${given.map((key) => `"${key}"`).join(', ')} need the atomic layout`,
            { source: SOURCE, store: store.name, cause: other },
          );
        }
        return await openIn(other.layout, other.layout === 'atomic' ? atomicDefaults(options, observation.onCommit) : undefined);
      }
    } catch (error) {
      releaseEngine(engine);
      observation.stop();
      throw error;
    }
  });
}

/**
 * The atomic options that apply whether given or not: the clock, background collection
 * (writers; default DEFAULT_RETENTION_MS) and the commit listener. Also those of a
 * database found in the atomic layout when `direct` was asked for.
 */
function atomicDefaults(options: OpenDatabaseOptions, onCommit: ((event: CommitEvent) => void) | undefined): AtomicOptions {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const collect =
    retentionMs === false || options.readOnly ? undefined : { retentionMs, ...(options.onCollect === undefined ? {} : { onCollected: options.onCollect }) };
  return {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(collect === undefined ? {} : { collect }),
    ...(onCommit === undefined ? {} : { onCommit }),
  };
}

function checkOptions(options: OpenDatabaseOptions): { store: BlockStore; name: string } {
  const invalid = (message: string) => new BlockVfsError('invalid', message, { source: SOURCE });
  if (!options || typeof options !== 'object') throw invalid('openDatabase needs an options object');
  const { store, name, pageSize, blockSize, build } = options;
  const storeIssue = storeProblem(store);
  if (storeIssue) throw invalid(`"store": ${storeIssue}`);
  const nameIssue = databaseNameProblem(name);
  if (nameIssue) throw invalid(nameIssue);
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0)) {
    throw invalid(`"pageSize" must be a power of two from 512 to 65536, got ${pageSize}`);
  }
  if (blockSize !== undefined && blockSizeProblem(blockSize)) throw invalid(`"blockSize": ${blockSizeProblem(blockSize)}`);
  if (build !== undefined && !BUILDS.includes(build)) throw invalid(`"build" must be one of ${BUILDS.join(', ')}, got ${String(build)}`);
  const busyIssue = options.busyTimeoutMs === undefined ? undefined : busyTimeoutProblem(options.busyTimeoutMs);
  if (busyIssue) throw invalid(busyIssue);
  const { retentionMs } = options;
  if (retentionMs !== undefined && retentionMs !== false && !(Number.isSafeInteger(retentionMs) && retentionMs >= 0)) {
    throw invalid(`"retentionMs" must be a non-negative integer of ms, or false to keep all history, got ${String(retentionMs)}`);
  }
  for (const key of ['onRequest', 'onCommit', 'onCollect'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw invalid(`"${key}" must be a function`);
  }
  // The atomic options are checked against the layout too (before any engine is taken).
  atomicOptions(options, undefined);
  return { store, name };
}

/** The options only the atomic layout has that were given. */
function atomicOnlyGiven(options: OpenDatabaseOptions): string[] {
  const { lease, freshnessMs, asOf, cacheBytes, singleWriter, retentionMs, onCollect, onCommit } = options;
  return Object.entries({ lease, freshnessMs, asOf, cacheBytes, singleWriter, retentionMs, onCollect, onCommit })
    .filter(([, value]) => value !== undefined)
    .map(([key]) => key);
}

/**
 * The atomic layout's options for `options` (undefined for the direct layout), checked
 * against the layout: those only the atomic layout has may not be given for `direct`.
 */
function atomicOptions(options: OpenDatabaseOptions, onCommit: ((event: CommitEvent) => void) | undefined): AtomicOptions | undefined {
  const invalid = (message: string) => new BlockVfsError('invalid', message, { source: SOURCE });
  const { lease, freshnessMs, asOf, cacheBytes, singleWriter } = options;
  if ((options.layout ?? DEFAULT_LAYOUT) !== 'atomic') {
    const given = atomicOnlyGiven(options);
    if (given.length === 0) return undefined;
    throw invalid(`${given.map((key) => `"${key}"`).join(', ')} need${given.length === 1 ? 's' : ''} the atomic layout, not "${String(options.layout)}"`);
  }
  if (asOf !== undefined && !(asOf instanceof Date ? Number.isFinite(asOf.getTime()) : Number.isSafeInteger(asOf) && asOf >= 1)) {
    throw invalid(`"asOf" must be a commit number (1 or more) or a valid Date, got ${asOf instanceof Date ? 'an invalid Date' : String(asOf)}`);
  }
  if (asOf !== undefined && !options.readOnly) throw invalid('"asOf" opens an older state of the database, which is read-only: pass readOnly: true too');
  if (lease !== undefined && lease !== false && options.readOnly) throw invalid('"lease" is for writers; a readOnly connection never writes');
  if (freshnessMs !== undefined && !(Number.isSafeInteger(freshnessMs) && freshnessMs >= 0))
    throw invalid(`"freshnessMs" must be a non-negative integer of ms, got ${freshnessMs}`);
  return {
    ...(lease === undefined ? {} : { lease }),
    ...(freshnessMs === undefined ? {} : { freshnessMs }),
    ...(asOf === undefined ? {} : { asOf }),
    ...(cacheBytes === undefined ? {} : { cacheBytes }),
    ...(singleWriter === undefined ? {} : { singleWriter }),
    ...atomicDefaults(options, onCommit),
  };
}
