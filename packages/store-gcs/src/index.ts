export { GcsStore, DEFAULT_DELETE_CONCURRENCY, type GcsStoreOptions } from './gcs-store.js';
export type { GcsBucketLike, GcsFileLike, GcsObjectMetadata, GcsWriteOptions, GcsListQuery } from './gcs-sdk.js';
