import { collectGarbage, isBlockVfsError, restoreCommit, withRetry, type BlockStore } from '@blockvfs/core';
import { deserialize, serialize } from '@blockvfs/serialize';
import { SqliteError, openDatabase, type Database, type OpenDatabaseOptions } from '@blockvfs/vfs-wasqlite';
import { KilledError, classifyError, describeError } from './errors.js';
import type { OpInfo } from './oracle.js';
import type { Random } from './random.js';
import { SimClock } from './scheduler.js';
import { bodyOf, opIds, readState, readStateAtOnce, type WriteKind } from './schema.js';
import type { SimStore } from './sim-store.js';
import { describeOp, type Op, type ProcessPlan } from './swarm.js';
import type { World } from './world.js';

/**
 * One simulated process: its plan's lives one after the other. A life is a store object
 * of its own (to the VFS, another process), a clock with the process's skew, a retry
 * layer if the plan has retries, and a Database on which it runs its ops. A life may be
 * killed at its Nth store request: everything in flight fails on the JS side, and the
 * process is never used again (the next life is a restart).
 *
 * Errors do not stop a life: the connection that saw one is used for the next op, as an
 * application would, since that is where stale state hides.
 */
export class SimProcess {
  readonly #world: World;
  readonly #plan: ProcessPlan;
  readonly #random: Random;

  constructor(world: World, plan: ProcessPlan) {
    this.#world = world;
    this.#plan = plan;
    this.#random = world.random.fork(`process ${plan.id}`);
  }

  async run(): Promise<void> {
    for (const [n, life] of this.#plan.lives.entries()) {
      const label = `p${this.#plan.id}.${n}`;
      if (n > 0) await this.#world.scheduler.sleep(this.#random.int(100, 20_000)); // a restart takes a while
      const life_ = new Life(this.#world, this.#plan, label, this.#random.fork(label), life.killAtRequest);
      await life_.run(life.ops);
    }
  }
}

class Life {
  readonly #world: World;
  readonly #plan: ProcessPlan;
  readonly #label: string;
  readonly #random: Random;
  readonly #store: SimStore;
  /** What the VFS talks to: the store, behind a retry layer when the plan has retries. */
  readonly #client: BlockStore;
  readonly #clock: SimClock;
  #db: Database | undefined;
  /** The second connection (opened for `overlap` ops). */
  #second: Database | undefined;

  constructor(world: World, plan: ProcessPlan, label: string, random: Random, killAt: number | undefined) {
    this.#world = world;
    this.#plan = plan;
    this.#label = label;
    this.#random = random;
    this.#clock = new SimClock(world.scheduler, plan.skewMs);
    const onRequest =
      killAt === undefined
        ? undefined
        : (index: number) => {
            // Dies a moment after sending its Nth request: that one (and any other) is in flight.
            if (index === killAt) world.scheduler.after(random.int(0, 30), () => this.#store.kill());
          };
    this.#store = world.store(label, plan.store, onRequest);
    this.#client =
      plan.retries > 0 ? withRetry(this.#store, { retries: plan.retries, clock: this.#clock, random: () => random.float(), baseDelayMs: 100 }) : this.#store;
  }

  get #killed(): boolean {
    return this.#store.killed;
  }

  async run(ops: readonly Op[]): Promise<void> {
    this.#world.line(`${this.#label} starts (${this.#plan.role})`);
    for (const op of ops) {
      if (this.#killed) break;
      if (!this.#db) this.#db = await this.#open();
      if (this.#killed) break;
      if (this.#db) await this.#op(op, this.#db);
      this.#world.opsDone += 1;
      this.#world.onOpDone();
    }
    if (this.#db && !this.#killed) {
      this.#world.line(`${this.#label} closes`);
      if (this.#second) await this.#second.close().catch((error: unknown) => this.#error(error, 'close'));
      await this.#db.close().catch((error: unknown) => this.#error(error, 'close'));
    }
    this.#world.line(`${this.#label} ends${this.#killed ? ' (killed)' : ''}`);
  }

  /** Opens the database, trying again a few times after store failures; undefined when it cannot. */
  async #open(): Promise<Database | undefined> {
    const { swarm, name } = this.#world;
    const options: OpenDatabaseOptions = {
      store: this.#client,
      name,
      clock: this.#clock,
      pageSize: swarm.pageSize,
      blockSize: swarm.blockSize,
      freshnessMs: this.#plan.freshnessMs,
    };
    if (this.#plan.role === 'reader') options.readOnly = true;
    else if (this.#plan.lease !== false) options.lease = { ttlMs: this.#plan.lease };
    if (this.#plan.noBlockCache) options.cacheBytes = 0;
    for (let attempt = 1; attempt <= 4 && !this.#killed; attempt++) {
      try {
        const db = await openDatabase(options);
        this.#world.databases.add(db);
        if (this.#plan.smallCache) await db.exec('PRAGMA cache_size = 10').catch((error: unknown) => this.#error(error, 'cache_size'));
        this.#world.line(`${this.#label} opened`);
        return db;
      } catch (error) {
        this.#error(error, `open (attempt ${attempt})`);
        await this.#clock.sleep(this.#random.int(100, 3_000));
      }
    }
    return undefined;
  }

  async #op(op: Op, db: Database): Promise<void> {
    this.#world.line(`${this.#label} ${describeOp(op)}`);
    switch (op.kind) {
      case 'insert':
        return this.#insert(db, op.large);
      case 'delete':
        return this.#write(db, 'delete', async (info) => {
          const count = Number((await db.get('SELECT count(*) AS n FROM items'))?.n ?? 0);
          this.#alive();
          let target: number | null = null;
          if (count > 0) {
            target = Number((await db.get('SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?', [Math.floor(op.pick * count)]))?.id);
            this.#alive();
            await db.run('DELETE FROM items WHERE id = ?', [target]);
            this.#alive();
          }
          await db.run('INSERT INTO ops (op, kind, proc, target) VALUES (?, ?, ?, ?)', [info.op, info.kind, this.#label, target]);
        });
      case 'increment':
        return this.#increment(db, op.counter, op.thinkMs);
      case 'read':
        return this.#read(db, op.thinkMs, true);
      case 'overlap': {
        this.#second ??= await this.#open();
        if (!this.#second) return;
        // The read starts first and holds its snapshot while the write commits on the other connection: in the
        // atomic layout each connection has a view of its own, as two processes would, so the oracle judges
        // the second connection's reads as its own (its own monotonic history and freshness promise).
        const second = this.#second;
        const write = this.#world.scheduler
          .sleep(this.#random.int(0, 50))
          .then(() => (op.write === 'insert' ? this.#insert(db, false) : this.#increment(db, 1, 0)));
        await Promise.all([this.#read(second, op.thinkMs, true, `${this.#label}+`), write]);
        return;
      }
      case 'checkpoint':
        return this.#plain('checkpoint', () => db.checkpoint());
      case 'vacuum':
        return this.#plain('vacuum', () => db.exec('VACUUM'));
      case 'gc':
        return this.#collect();
      case 'restore':
        return this.#restore(db, op.back, op.via);
      case 'idle':
        return this.#clock.sleep(op.ms);
      case 'reopen': {
        this.#db = undefined;
        if (this.#second) await this.#second.close().catch((error: unknown) => this.#error(error, 'close'));
        this.#second = undefined;
        await db.close().catch((error: unknown) => this.#error(error, 'close'));
        if (!this.#killed) this.#db = await this.#open();
        return;
      }
    }
  }

  #insert(db: Database, large: boolean): Promise<void> {
    return this.#write(db, large ? 'insert-large' : 'insert-small', async (info) => {
      await db.run('INSERT INTO items (id, body) VALUES (?, ?)', [info.op, bodyOf(info.op, info.kind as 'insert-small' | 'insert-large')]);
      this.#alive();
      await db.run('INSERT INTO ops (op, kind, proc) VALUES (?, ?, ?)', [info.op, info.kind, this.#label]);
    });
  }

  /** Read n, (think), write n + 1, and record the n it read: a lost or doubled increment breaks the chain. */
  #increment(db: Database, counter: number, thinkMs: number): Promise<void> {
    return this.#write(db, 'increment', async (info) => {
      const seen = Number((await db.get('SELECT n FROM counters WHERE id = ?', [counter]))?.n ?? 0);
      this.#alive();
      // A long think makes the transaction outlive the view's trust window before it writes.
      if (thinkMs > 0) await this.#clock.sleep(thinkMs);
      this.#alive();
      await db.run('INSERT INTO counters (id, n) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n', [counter, seen + 1]);
      this.#alive();
      await db.run('INSERT INTO ops (op, kind, proc, target, seen) VALUES (?, ?, ?, ?, ?)', [info.op, info.kind, this.#label, counter, seen]);
    });
  }

  /** One write transaction, judged by the oracle. `body` runs inside it. */
  async #write(db: Database, kind: WriteKind, body: (info: OpInfo) => Promise<void>): Promise<void> {
    const { oracle } = this.#world;
    const info = oracle.begin(this.#label, kind);
    let bodyDone = false;
    try {
      await db.transaction(async () => {
        await body(info);
        this.#alive();
        bodyDone = true;
      });
    } catch (error) {
      const why = describeError(error);
      const kind_ = classifyError(error);
      // Before COMMIT nothing reaches the store (a failed statement rolls the transaction back); at COMMIT, BUSY means lost for certain.
      if (!bodyDone || kind_.kind === 'busy') oracle.failed(info, why);
      else oracle.unknown(info, why);
      this.#error(error, `op ${info.op}`);
      return;
    }
    const version = await db.version().catch(() => undefined);
    oracle.acked(info, version?.commit);
  }

  /**
   * A read transaction: the whole state, twice when it thinks (it must not change inside
   * the transaction). `promised`: whether the process's freshness promise applies (not
   * for a connection that may join another connection's snapshot).
   */
  async #read(db: Database, thinkMs: number, promised: boolean, label = this.#label): Promise<void> {
    const { oracle } = this.#world;
    const issued = oracle.issue();
    let first: number[] | undefined;
    let state;
    try {
      // Every other read without a think is one statement outside any transaction: the path whose read
      // runs before its look for new commits has answered (see readStateAtOnce).
      if (thinkMs === 0 && issued.tick % 2 === 0) state = await readStateAtOnce(db);
      else
        state = await db.transaction(async () => {
          if (thinkMs > 0) {
            first = opIds(await readState(db, false));
            this.#alive();
            await this.#clock.sleep(thinkMs);
            this.#alive();
          }
          const read = await readState(db);
          this.#alive();
          return read;
        });
    } catch (error) {
      this.#error(error, 'read');
      return;
    }
    const ids = opIds(state);
    if (first && first.join() !== ids.join()) {
      oracle.finding('oneCommit', `a read transaction of ${label} saw ops [${first.join(',')}] and then [${ids.join(',')}]`);
    }
    // A lease holder skips looking for other writers' commits (writers without a lease are still stopped at the record): no promise.
    const staleness = this.#plan.lease === false && promised ? this.#plan.freshnessMs : undefined;
    this.#world.line(`${label} read ${ids.length} ops`);
    oracle.observe(label, state, issued, { staleness, what: 'read' });
  }

  async #plain(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
      this.#world.line(`${this.#label} ${what} done`);
    } catch (error) {
      this.#error(error, what);
    }
  }

  async #collect(): Promise<void> {
    const { swarm, name, oracle, monitor } = this.#world;
    const now = this.#clock.now();
    const horizon = now - Math.max(swarm.gc.retentionMs, swarm.gc.graceMs);
    oracle.collections.push({ horizon, horizonCommit: monitor.commitInForceAt(horizon) });
    const running = { overlapped: this.#world.collecting.size > 0 };
    for (const other of this.#world.collecting) other.overlapped = true;
    this.#world.collecting.add(running);
    try {
      const report = await collectGarbage({ store: this.#client, name, retentionMs: swarm.gc.retentionMs, graceMs: swarm.gc.graceMs, now });
      this.#world.line(`${this.#label} gc: latest ${report.latest}, oldest kept ${report.oldestKept}, deleted ${JSON.stringify(report.deleted)}`);
      // Its floor (the head's oldest when it read the head) may come from any collection that started before it
      // ended, each bounded by the commit in force at its own horizon (by record times, some of which may have
      // landed late): the most it may keep from is the largest of those.
      const allowed = Math.max(...oracle.collections.map((gc) => monitor.commitInForceAt(gc.horizon)));
      if (report.oldestKept > allowed) {
        oracle.finding(
          'collection',
          `a collection at ${now} (horizon ${horizon}) kept commits only from ${report.oldestKept}, but the commit in force at its horizon is ${allowed}`,
        );
      }
    } catch (error) {
      // Two collections at once: one may find records or a checkpoint the other just deleted. It must fail, not
      // delete what is live (the format monitor watches that); failing with not-found rather than transient is noted.
      if (running.overlapped && isBlockVfsError(error, 'not-found')) this.#world.line(`${this.#label} gc beside another collection: ${describeError(error)}`);
      else this.#error(error, 'gc');
    } finally {
      this.#world.collecting.delete(running);
    }
  }

  /**
   * Brings back the commit `back` commits before this connection's view, having read its
   * state first by time travel: what the oracle then expects, with the ops committed in
   * between gone for good. Via restoreCommit, or via an export of that commit imported
   * over the database (one commit too, with the same state).
   */
  async #restore(db: Database, back: number, via: 'restoreCommit' | 'import'): Promise<void> {
    const { oracle, name } = this.#world;
    const asOf = ((await db.version().catch(() => undefined))?.commit ?? 0) - back;
    if (asOf < 1) return;
    let ops: Set<number>;
    try {
      const old = await openDatabase({ store: this.#client, name, clock: this.#clock, readOnly: true, asOf });
      this.#world.databases.add(old);
      try {
        const state = await old.transaction(() => readState(old, false));
        oracle.checkState(state, `time travel to commit ${asOf} by ${this.#label}`);
        ops = new Set(state.ops.keys());
      } finally {
        await old.close().catch(() => undefined);
      }
    } catch (error) {
      // Collected meanwhile (not-found, or a block gone mid-read once behind the oldest kept), or a store failure: no restore then.
      const cause = error instanceof SqliteError ? error.cause : error;
      const collected = isBlockVfsError(cause, 'not-found') || (isBlockVfsError(cause, 'permanent') && (this.#world.monitor.head()?.oldest ?? 0) > asOf);
      if (collected) this.#world.line(`${this.#label} restore: commit ${asOf} is no longer kept`);
      else this.#error(error, `restore: time travel to commit ${asOf}`);
      return;
    }
    if (this.#killed) return;
    let file: Uint8Array[] | undefined;
    if (via === 'import') {
      try {
        file = [];
        for await (const chunk of serialize({ store: this.#client, name, asOf, clock: this.#clock })) file.push(chunk);
      } catch (error) {
        const cause = error instanceof SqliteError ? error.cause : error;
        const collected = isBlockVfsError(cause, 'not-found') || (isBlockVfsError(cause, 'permanent') && (this.#world.monitor.head()?.oldest ?? 0) > asOf);
        if (collected) this.#world.line(`${this.#label} restore: commit ${asOf} is no longer kept`);
        else this.#error(error, `restore: export of commit ${asOf}`);
        return;
      }
      if (this.#killed) return;
    }
    const restore = oracle.beginRestore(this.#label, asOf, ops, via);
    try {
      if (file) {
        // In memory (no file system: a seed touches nothing outside the simulation), on the process's clock.
        const { commit } = await deserialize({ store: this.#client, name, source: file, spool: 'memory', clock: this.#clock });
        oracle.restoreSettled(restore, commit ?? 'unknown');
      } else {
        const report = await restoreCommit({ store: this.#client, name, asOf, clock: this.#clock });
        oracle.restoreSettled(restore, report.commit === 0 ? 'nothing' : report.commit);
      }
    } catch (error) {
      // Refused (another writer, its lease, a collection of the commit): not applied. Anything else: it may have landed.
      const refused = isBlockVfsError(error, 'precondition-failed') || isBlockVfsError(error, 'not-found');
      oracle.restoreSettled(restore, refused ? 'refused' : 'unknown');
      if (isBlockVfsError(error, 'not-found')) this.#world.line(`${this.#label} restore: ${describeError(error)}`);
      else this.#error(error, 'restore');
    }
  }

  #alive(): void {
    if (this.#killed) throw new KilledError(`${this.#label} was killed`);
  }

  /** Notes an error; an unexpected one (of a live process) is a finding. */
  #error(error: unknown, what: string): void {
    const kind = classifyError(error);
    const text = describeError(error);
    this.#world.line(`${this.#label} ${what}: ${text}`);
    if (kind.kind === 'unexpected' && !this.#killed) this.#world.oracle.finding(kind.guarantee, `${this.#label} ${what}: ${text}`);
  }
}
