import type { BlockStore } from '@blockvfs/core/store';

/** A test framework's `describe`: vitest, jest and node:test all fit. */
export type DescribeFunction = (name: string, body: () => void) => unknown;

/**
 * A test framework's `it`/`test`. The suite passes its timeout as the third argument
 * (vitest and jest read it; node:test ignores it) and calls the context's `skip` when
 * the framework hands one to the test (vitest, node:test).
 */
export type ItFunction = (name: string, body: (...args: unknown[]) => Promise<void>, timeoutMs?: number) => unknown;

/** How big the heavier cases are. Lower them for a slow or billed backend; the defaults suit a local one. */
export interface ConformanceScale {
  /** Keys written for the ordering and pagination case (default 2500: several pages on every provider). */
  listKeys?: number;
  /** Writers racing on create-if-absent of one key (default 32); half as many race on ifMatch. */
  racers?: number;
  /** Size of the large round-trip object (default 5 MiB: more than one part or chunk on most SDKs). */
  bigObjectBytes?: number;
}

export interface ConformanceOptions {
  describe: DescribeFunction;
  it: ItFunction;
  /** Returns a fresh, empty store; called once per case. */
  createStore: () => BlockStore | Promise<BlockStore>;
  /** Releases what `createStore` made (a temp folder, a bucket prefix, a client); called after every case. */
  destroyStore?: (store: BlockStore) => void | Promise<void>;
  /** Shown in the top-level describe, e.g. `FsStore`. */
  name?: string;
  /** Per-case timeout handed to `it` (default 60 s). */
  timeoutMs?: number;
  scale?: ConformanceScale;
}

export interface ResolvedScale {
  listKeys: number;
  racers: number;
  ifMatchRacers: number;
  bigObjectBytes: number;
  /** More than 1000 (the S3 DeleteObjects limit), so that stores must split big deletes. */
  deleteKeys: number;
}

export function resolveScale(scale: ConformanceScale = {}): ResolvedScale {
  const listKeys = positiveInteger(scale.listKeys ?? 2500, 'scale.listKeys');
  const racers = Math.max(2, positiveInteger(scale.racers ?? 32, 'scale.racers'));
  const bigObjectBytes = positiveInteger(scale.bigObjectBytes ?? 5 * 1024 * 1024, 'scale.bigObjectBytes');
  return { listKeys, racers, ifMatchRacers: Math.max(2, Math.floor(racers / 2)), bigObjectBytes, deleteKeys: Math.max(1001, Math.round(listKeys / 2)) };
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`@blockvfs/store-conformance: ${what} must be a positive integer, got ${value}`);
  return value;
}
