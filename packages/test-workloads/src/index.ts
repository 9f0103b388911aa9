export { CLOUD_MATRIX_CASES, JOURNAL_MODES, LAYOUTS, listObjects, payload, runSqlMatrixCase, type JournalMode, type SqlMatrixCase } from './sql-matrix.js';
export { gcBesideReaders, snapshotIsolation, type TwoProcesses } from './isolation.js';
export { crashAtEveryRequest, type CrashMode, type CrashOptions, type CrashReport, type CrashTarget } from './crash.js';
export { checkRequestBounds, countRequests, countTable, type Counts, type RequestCountOptions, type RequestCountReport } from './request-counts.js';
export {
  concurrentIncrements,
  killWritersAtRandom,
  fsChildStore,
  startWriter,
  type ChildStoreSpec,
  type IncrementOptions,
  type IncrementReport,
  type KillOptions,
  type KillReport,
  type Writer,
  type WriterSpec,
} from './processes.js';
export {
  blocksOf,
  checkedReadmes,
  isVerbatimExcerpt,
  publicPackageDirs,
  readmeBlocks,
  relativeLinks,
  runBlock,
  runSourceFile,
  cloudBlocks,
  testsRunning,
  typeCheckBlocks,
  REPOSITORY_ROOT,
  type BlockCloud,
  type BlockMarker,
  type BlockRun,
  type RunOptions,
  type ReadmeBlock,
} from './readme-blocks.js';
export { SOURCE_CONDITION, sourceEnv, sourceExecArgv } from './child-node.js';
