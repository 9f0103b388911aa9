// What a store author imports (`@blockvfs/core/store`): the BlockStore contract, the errors
// a store throws and how it checks its arguments, the request timeout and retry every
// network store takes (CloudStoreOptions), the shared rules that turn a provider's
// failure into an error (StoreErrors), and the base of a layer that wraps a store.
// Applications import `@blockvfs/core`.
export type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from './block-store.js';
export { BlockVfsError, ERROR_KINDS, isBlockVfsError, type BlockVfsErrorOptions, type ErrorKind } from './errors.js';
export { MAX_BLOCK_SIZE, blockSizeProblem, keyProblem, rangeProblem, storeProblem } from './argument-checks.js';
export { forEachLimit } from './concurrency.js';
export {
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_REQUEST_TIMEOUT_MS,
  RequestTimeoutError,
  isRequestTimeout,
  requestTimeoutProblem,
  withRequestTimeout,
  type RequestTimeoutOption,
} from './request-timeout.js';
export { withRetry, type RetryEvent, type RetryOptions } from './layers/retry.js';
export { LayeredStore, type StoreLayerOptions } from './layers/layered-store.js';
export { resolveRequestTimeout, type CloudStoreOptions } from './cloud-store-options.js';
export {
  NETWORK_ERROR_CODES,
  StoreErrors,
  describeDelete,
  describeGet,
  describeList,
  describePut,
  isNetworkFailure,
  kindOfStatus,
  type ProviderErrorRules,
  type ProviderFailure,
} from './store-errors.js';
