export type { BlockStore, ByteRange, ListEntry, ListOptions, PutCondition, PutResult, StoreCapabilities } from './block-store.js';
export { BlockVfsError, ERROR_KINDS, isBlockVfsError, type BlockVfsErrorOptions, type ErrorKind } from './errors.js';
export { forEachLimit } from './concurrency.js';
export { blockCount, blockLength, type FileChange, type FileFormat } from './file-format.js';
export { DirectFormat, directBlockKey, type DirectFormatOptions } from './direct-format.js';
export { PagedFile, type PagedFileOptions } from './paged-file.js';
export { DEFAULT_BLOCK_SIZE, LAYOUTS, checkLayout, openPagedFile, type Layout, type OpenPagedFileOptions } from './layout.js';
