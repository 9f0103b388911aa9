import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hasAtomicDatabase, type BlockStore, type Layout } from '@blockvfs/core';
import { DirectFormat } from '@blockvfs/core/format';
import { deserialize, serialize, type DeserializeResult } from '@blockvfs/serialize';
import { CliError, EXIT } from './errors.js';

/**
 * import, export and copy: @blockvfs/serialize's two functions with the guard rails a
 * command line needs (no silent overwrite, `-` for stdin and stdout, a file that
 * appears whole or not at all), callable from code as well.
 */

/** Whether a database (either layout) exists under `name`: two small requests side by side. */
export async function databaseExists(store: BlockStore, name: string): Promise<boolean> {
  const [atomic, direct] = await Promise.all([hasAtomicDatabase(store, name), DirectFormat.exists(store, name)]);
  return atomic || direct;
}

export interface ByteProgress {
  /** Bytes the store has confirmed (import, copy) or bytes read from it (export). */
  bytes: number;
  totalBytes: number | undefined;
  phase: 'reading' | 'writing';
}

export interface ImportOptions {
  store: BlockStore;
  name: string;
  /** A file path, `-` for stdin, or chunks (a stream, serialize(…)). */
  source: string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Replace a database already under `name` (its history is kept: the import is one more commit). */
  force?: boolean;
  blockSize?: number;
  layout?: Layout;
  onProgress?: (progress: ByteProgress) => void;
  /** What to call the target in errors (its URL). */
  label?: string;
}

/** Stores a plain SQLite file as database `name`; refuses to replace one unless `force`. */
export async function importDatabase(options: ImportOptions): Promise<DeserializeResult> {
  const { store, name, onProgress } = options;
  const label = options.label ?? name;
  if (!options.force && (await databaseExists(store, name))) {
    throw new CliError(`${label} already exists; use --force to replace it (its history stays: the import is one more commit)`, EXIT.exists);
  }
  let source = options.source;
  let totalBytes: number | undefined;
  if (typeof source === 'string') {
    if (source === '-' && process.stdin.isTTY)
      throw new CliError('import -: stdin is a terminal; pipe the SQLite file in (blockvfs import - URL < app.sqlite)', EXIT.usage);
    if (source === '-') source = process.stdin;
    else {
      totalBytes = (await statFile(source)).size;
      source = createReadStream(source);
    }
  }
  return deserialize({
    store,
    name,
    source,
    ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
    ...(options.layout === undefined ? {} : { layout: options.layout }),
    onProgress: (progress) => onProgress?.({ phase: progress.phase, bytes: progress.bytes, totalBytes: progress.totalBytes ?? totalBytes }),
  });
}

async function statFile(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      code === 'ENOENT' ? EXIT.notFound : EXIT.failed,
      { cause: error },
    );
  }
}

export interface ExportOptions {
  store: BlockStore;
  name: string;
  /** A file path, or `-` for stdout. */
  target: string;
  asOf?: number | Date;
  /** Replace an existing file. */
  force?: boolean;
  onProgress?: (progress: ByteProgress) => void;
}

/**
 * Writes database `name` (or its state `asOf`) as a plain SQLite file. A file target is
 * written under a temporary name beside it and renamed at the end, so that an export
 * that fails leaves no half file where a database is expected.
 */
export async function exportDatabase(options: ExportOptions): Promise<{ bytes: number }> {
  const { store, name, target, onProgress } = options;
  let bytes = 0;
  const chunks = serialize({
    store,
    name,
    ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
    onProgress: (progress) => {
      bytes = progress.bytes;
      onProgress?.({ phase: 'reading', bytes: progress.bytes, totalBytes: progress.totalBytes });
    },
  });
  if (target === '-') {
    // Checked before anything is read: a database's bytes would only garble the terminal.
    if (process.stdout.isTTY) throw new CliError('export -: stdout is a terminal; redirect it (blockvfs export URL - > app.sqlite) or name a file', EXIT.usage);
    await pipeline(chunks, stdoutSink());
    return { bytes };
  }
  if (!options.force && (await exists(target))) throw new CliError(`${target} already exists; use --force to replace it`, EXIT.exists);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await pipeline(chunks, createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { bytes };
}

/**
 * stdout as a sink that does not close it (pipeline would end process.stdout otherwise). A
 * reader that goes away (`| head`) fails the export with a clear error instead of an
 * unhandled EPIPE.
 */
function stdoutSink(): Writable {
  let failed: Error | undefined;
  let waiting: ((error?: Error | null) => void) | undefined;
  const resume = (error?: Error): void => {
    const callback = waiting;
    waiting = undefined;
    callback?.(error);
  };
  const onDrain = () => resume(failed);
  const onError = (error: Error) => {
    failed = new CliError(`stdout closed before the export ended (${(error as NodeJS.ErrnoException).code ?? error.message})`, EXIT.failed, { cause: error });
    resume(failed); // a write waiting for a drain that will never come
  };
  process.stdout.on('error', onError);
  process.stdout.on('drain', onDrain);
  const detach = () => {
    process.stdout.off('error', onError);
    process.stdout.off('drain', onDrain);
  };
  return new Writable({
    write(chunk: Uint8Array, _encoding, callback) {
      if (failed) return callback(failed);
      if (process.stdout.write(chunk)) callback();
      else waiting = callback;
    },
    final(callback) {
      detach();
      callback(failed);
    },
    destroy(error, callback) {
      detach();
      callback(error);
    },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface CopyOptions {
  from: { store: BlockStore; name: string };
  to: { store: BlockStore; name: string; label?: string };
  asOf?: number | Date;
  force?: boolean;
  blockSize?: number;
  layout?: Layout;
  onProgress?: (progress: ByteProgress) => void;
}

/**
 * Copies a database (or its state `asOf`) to another store or name, streaming: no file
 * in between. The target's import is one commit, so it holds the copy whole or not at all.
 */
export async function copyDatabase(options: CopyOptions): Promise<DeserializeResult> {
  const { from, to } = options;
  if (from.store === to.store && from.name === to.name) throw new CliError('the source and the target are the same database', EXIT.usage);
  if (!(await databaseExists(from.store, from.name))) throw new CliError(`there is no database "${from.name}" on ${from.store.name}`, EXIT.notFound);
  return importDatabase({
    store: to.store,
    name: to.name,
    label: to.label ?? to.name,
    source: serialize({ store: from.store, name: from.name, ...(options.asOf === undefined ? {} : { asOf: options.asOf }) }),
    ...(options.force === undefined ? {} : { force: options.force }),
    ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
    ...(options.layout === undefined ? {} : { layout: options.layout }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
}
