// The command line's parts, for applications that want what a command does without a child process.
// The atomic layout's inspection (inspectDatabase, listCommits, verifyObjects, restoreCommit) and
// collectGarbage are in @blockvfs/core; serialize/deserialize in @blockvfs/serialize.
export { run, createProgram, type Io } from './program.js';
export { parseDatabaseUrl, describeUrl, type DatabaseUrl, type Scheme } from './database-url.js';
export { openStore, type OpenedStore, type StoreOptions } from './open-store.js';
export {
  databaseExists,
  importDatabase,
  exportDatabase,
  copyDatabase,
  type ImportOptions,
  type ExportOptions,
  type CopyOptions,
  type ByteProgress,
} from './transfer.js';
export { openForSql, runSql, type SqlOpenOptions } from './sql.js';
export { formatRows, RESULT_FORMATS, type ResultFormat } from './result-format.js';
export { splitStatements, isComplete } from './sql-text.js';
export { verifyDatabase, type DatabaseVerifyReport, type VerifyDatabaseOptions } from './verify.js';
export { parseDuration, parseAsOf } from './option-values.js';
export { CliError, EXIT } from './errors.js';
