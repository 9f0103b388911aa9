// What an application imports: the store interface it passes to openDatabase, the errors
// it meets, the layers it may wrap a store in, garbage collection and the lease.
// Store authors import `@blockvfs/core/store`; SQLite bindings `@blockvfs/core/format`;
// tests `@blockvfs/core/testing`.
export type { BlockStore } from './block-store.js';
export { BlockVfsError, ERROR_KINDS, isBlockVfsError, type ErrorKind } from './errors.js';
export { WrongLayoutError, hasAtomicDatabase, isWrongLayoutError } from './stored-database.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, isRequestTimeout, type RequestTimeoutOption } from './request-timeout.js';
export { systemClock, type Clock } from './clock.js';
export {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_DIRECT_BLOCK_SIZE,
  DEFAULT_LAYOUT,
  LAYOUTS,
  defaultBlockSize,
  type AtomicOptions,
  type Layout,
} from './layout.js';
export { MAX_BLOCK_SIZE } from './argument-checks.js';
export { DEFAULT_BLOCK_CACHE_BYTES, type CommitEvent } from './atomic/atomic-format.js';
export { withCache, type CacheOptions, type CacheStats, type CachedStore } from './layers/cache.js';
export { withMetrics, type MeteredStore, type StoreMetrics } from './layers/metrics.js';
export { withRetry, type RetryEvent, type RetryOptions } from './layers/retry.js';
export { withRequestLog, type RequestEvent, type RequestListener } from './layers/request-log.js';
export { breakLease, DEFAULT_LEASE_TTL_MS, MAX_LEASE_TTL_MS, type BreakLeaseOptions, type LeaseOptions } from './atomic/lease.js';
export {
  collectGarbage,
  DEFAULT_GRACE_MS,
  DEFAULT_RETENTION_MS,
  MIN_GRACE_MS,
  type CollectGarbageOptions,
  type GarbageProgress,
  type GarbageReport,
} from './atomic/gc.js';
export {
  inspectDatabase,
  listCommits,
  type CommitSummary,
  type DatabaseInfo,
  type InspectOptions,
  type ListCommitsOptions,
  type ObjectTally,
} from './atomic/inspect.js';
export { verifyObjects, type VerifyOptions, type VerifyProgress, type VerifyReport } from './atomic/verify.js';
export { restoreCommit, type RestoreOptions, type RestoreReport } from './atomic/restore.js';
