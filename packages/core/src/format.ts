// What a SQLite binding imports (`@blockvfs/core/format`): files of pages kept as blocks
// (PagedFile) in either layout, the layouts' object names, and the writer lease. The
// Node VFS (@blockvfs/vfs-wasqlite) and @blockvfs/serialize are built on it.
export { blockCount, blockLength, type FileChange, type FileFormat } from './file-format.js';
export { DirectFormat, directBlockKey, type DirectFormatOptions } from './direct-format.js';
export { PagedFile, type PagedFileOptions } from './paged-file.js';
export { changeCounterOf, headerOf, setChangeCounterPast } from './change-counter.js';
export { checkLayout, openPagedFile, type OpenPagedFileOptions } from './layout.js';
export { WrongLayoutError, hasAtomicDatabase, isWrongLayoutError } from './stored-database.js';
export {
  AtomicFormat,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_INLINE_LIMIT,
  VIEW_TRUST_MS,
  type AtomicFormatOptions,
  type CommitEvent,
} from './atomic/atomic-format.js';
export { atomicBlockKey, atomicCheckpointKey, atomicCommitKey, atomicHeadKey, atomicLeaseKey } from './atomic/objects.js';
export { WriterLease, MIN_LEASE_TTL_MS, writersUseLease } from './atomic/lease.js';
export { DEFAULT_COLLECT_EVERY_COMMITS, type BackgroundCollectionOptions } from './atomic/background-collector.js';
