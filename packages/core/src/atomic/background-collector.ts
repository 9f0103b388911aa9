import type { BlockStore } from '../block-store.js';
import type { Clock } from '../clock.js';
import { collectGarbage, type GarbageReport } from './gc.js';

/** Run a collection after this many commits since the last one… */
export const DEFAULT_COLLECT_EVERY_COMMITS = 1000;
/**
 * …or, with at least one commit since, once the retention has passed, but at least every
 * MAX_COLLECT_INTERVAL_MS (so that a process that lives for hours, not days, still collects
 * with a day's retention) and at most every MIN_COLLECT_INTERVAL_MS.
 */
export const MIN_COLLECT_INTERVAL_MS = 60_000;
export const MAX_COLLECT_INTERVAL_MS = 60 * 60_000;

export interface BackgroundCollectionOptions {
  /** Keep every commit made within this many ms (collectGarbage's `retentionMs`). */
  retentionMs: number;
  /** collectGarbage's `graceMs` (default its own). */
  graceMs?: number;
  /** Collect after this many commits since the last collection (default 1000). */
  everyCommits?: number;
  /** Told what each collection deleted (for logs). */
  onCollected?: (report: GarbageReport) => void;
  /** Told when a collection failed: it is retried at the next trigger, and never fails a commit. */
  onError?: (error: unknown) => void;
}

/**
 * Collections in flight, per store object and database name: at most one collector at a
 * time in this process, however many connections write the database. (Collections from
 * other processes are safe beside it: collectGarbage's rules hold against any number.)
 */
const running = new WeakMap<BlockStore, Set<string>>();

/**
 * Keeps a writer's history bounded without a cron job: after a commit, when enough
 * commits or time have passed since the last collection, it starts collectGarbage in the
 * background. The commit that triggers it does not wait for it (it is never on a
 * commit's path); `close()` waits for the one in flight, so a closed database leaves no
 * request behind.
 */
export class BackgroundCollector {
  readonly #store: BlockStore;
  readonly #name: string;
  readonly #clock: Clock;
  readonly #options: BackgroundCollectionOptions;
  readonly #everyCommits: number;
  readonly #intervalMs: number;
  #commitsSince = 0;
  #lastRun: number;
  #inFlight: Promise<void> | undefined;
  #closed = false;

  constructor(store: BlockStore, name: string, clock: Clock, options: BackgroundCollectionOptions) {
    this.#store = store;
    this.#name = name;
    this.#clock = clock;
    this.#options = options;
    this.#everyCommits = options.everyCommits ?? DEFAULT_COLLECT_EVERY_COMMITS;
    // Collecting more often than the retention finds little new; a day's retention still collects hourly.
    this.#intervalMs = Math.max(MIN_COLLECT_INTERVAL_MS, Math.min(MAX_COLLECT_INTERVAL_MS, options.retentionMs));
    this.#lastRun = clock.now();
  }

  /** Counts a commit that landed, and starts a collection if one is due. */
  afterCommit(): void {
    this.#commitsSince += 1;
    if (this.#closed || this.#inFlight) return;
    const due = this.#commitsSince >= this.#everyCommits || this.#clock.now() - this.#lastRun >= this.#intervalMs;
    if (!due) return;
    const names = running.get(this.#store) ?? new Set<string>();
    if (names.has(this.#name)) return; // another connection of this process is collecting it
    names.add(this.#name);
    running.set(this.#store, names);
    this.#commitsSince = 0;
    this.#lastRun = this.#clock.now();
    this.#inFlight = this.#collect().finally(() => {
      names.delete(this.#name);
      this.#inFlight = undefined;
    });
  }

  /** Waits for the collection in flight, if any, and starts no more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight;
  }

  async #collect(): Promise<void> {
    try {
      const report = await collectGarbage({
        store: this.#store,
        name: this.#name,
        retentionMs: this.#options.retentionMs,
        now: this.#clock.now(),
        ...(this.#options.graceMs === undefined ? {} : { graceMs: this.#options.graceMs }),
      });
      this.#options.onCollected?.(report);
    } catch (error) {
      this.#options.onError?.(error);
    }
  }
}
