export type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from './block-store.js';
export { BlockVfsError, ERROR_KINDS, isBlockVfsError, type BlockVfsErrorOptions, type ErrorKind } from './errors.js';
export { WrongLayoutError, hasAtomicDatabase, isWrongLayoutError } from './stored-database.js';
export { forEachLimit } from './concurrency.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export { blockCount, blockLength, type FileChange, type FileFormat } from './file-format.js';
export { DirectFormat, directBlockKey, type DirectFormatOptions } from './direct-format.js';
export { PagedFile, type PagedFileOptions } from './paged-file.js';
export { DEFAULT_BLOCK_SIZE, DEFAULT_LAYOUT, LAYOUTS, checkLayout, openPagedFile, type AtomicOptions, type Layout, type OpenPagedFileOptions } from './layout.js';
export { withCache, type CacheOptions, type CacheStats, type CachedStore } from './layers/cache.js';
export { withMetrics, type MeteredStore, type StoreMetrics } from './layers/metrics.js';
export { withLatency, type LatencyOptions } from './layers/latency.js';
export { mulberry32, withFaults, type FaultControl, type FaultMode, type FaultOp, type FaultOptions, type FaultyStore } from './layers/faults.js';
export { withRetry, type RetryEvent, type RetryOptions } from './layers/retry.js';
export { LayeredStore, type StoreLayerOptions } from './layers/layered-store.js';
export {
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_REQUEST_TIMEOUT_MS,
  RequestTimeoutError,
  isRequestTimeout,
  requestTimeoutProblem,
  withRequestTimeout,
  type RequestTimeoutOption,
} from './request-timeout.js';
export { MAX_BLOCK_SIZE, blockSizeProblem, keyProblem, rangeProblem, storeProblem } from './argument-checks.js';
export {
  AtomicFormat,
  DEFAULT_BLOCK_CACHE_BYTES,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_INLINE_LIMIT,
  VIEW_TRUST_MS,
  type AtomicFormatOptions,
} from './atomic/atomic-format.js';
export { atomicBlockKey, atomicCheckpointKey, atomicCommitKey, atomicHeadKey, atomicLeaseKey } from './atomic/objects.js';
export { WriterLease, breakLease, DEFAULT_LEASE_TTL_MS, MAX_LEASE_TTL_MS, type BreakLeaseOptions, type LeaseOptions } from './atomic/lease.js';
export {
  collectGarbage,
  DEFAULT_GRACE_MS,
  DEFAULT_RETENTION_MS,
  MIN_GRACE_MS,
  type CollectGarbageOptions,
  type GarbageProgress,
  type GarbageReport,
} from './atomic/gc.js';
