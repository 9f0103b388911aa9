export { S3Store, type S3StoreOptions } from './s3-store.js';
export type { S3ClientLike } from './s3-sdk.js';
