export { FsStore, type FsStoreOptions } from './fs-store.js';
