import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { LAYOUTS, type Layout } from '@blockvfs/core';
import { describeError, exitCodeOf, EXIT } from './errors.js';
import { asOf, count } from './option-values.js';
import { createProgress, formatBytes, type Progress } from './progress.js';
import { RESULT_FORMATS, type ResultFormat } from './result-format.js';
import { Session, type Target } from './session.js';
import { openForSql, runSql } from './sql.js';
import { copyDatabase, exportDatabase, importDatabase, type ByteProgress } from './transfer.js';
import { registerInspectionCommands } from './commands/inspection.js';
import { runShell } from './shell.js';

/**
 * The `blockvfs` command: one commander program whose commands are thin layers over
 * library functions (this package's transfer.ts and sql.ts, core's inspection of the
 * atomic layout). Output goes to stdout, progress and messages to stderr.
 */

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: Io = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

export interface GlobalOptions {
  endpoint?: string;
  quiet?: boolean;
}

/** What every command's action gets: the session's stores, the global options, output. */
export interface CommandContext {
  session: Session;
  globals: GlobalOptions;
  io: Io;
  open(url: string): Promise<Target>;
  progress(unit?: 'bytes' | 'objects'): Progress;
  /** A message for the user (not data): stderr, unless --quiet. */
  note(text: string): void;
}

/** Runs one command line (without `node` and the script); resolves to the exit status. */
export async function run(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; anything else is bad usage.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    io.stderr(`blockvfs: ${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}

function packageVersion(): string {
  // src/ and dist/ are both one level below the package.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function createProgram(io: Io = defaultIo): Command {
  const program = new Command('blockvfs')
    .description(
      'SQLite databases kept as blocks in object storage.\n\n' +
        'Databases are named by URL: s3://bucket/prefix/name, gs://bucket/prefix/name, az://container/prefix/name,\n' +
        'file:./dir/name or a plain path (a folder, and the database name in it).\n' +
        'S3: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or --endpoint).\n' +
        'GCS: STORAGE_EMULATOR_HOST, or application default credentials. Azure: AZURE_STORAGE_CONNECTION_STRING.',
    )
    .version(packageVersion())
    .option('--endpoint <url>', 'S3 endpoint (or GCS API endpoint) instead of the one from the environment')
    .option('-q, --quiet', 'no progress and no messages on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  const context = (command: Command): CommandContext => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const session = new Session(globals.endpoint === undefined ? {} : { endpoint: globals.endpoint });
    return {
      session,
      globals,
      io,
      open: (url) => session.open(url),
      progress: (unit = 'bytes') => createProgress({ quiet: globals.quiet === true, unit }),
      note: (text) => {
        if (!globals.quiet) io.stderr(`${text}\n`);
      },
    };
  };
  /** An action with a context whose stores are closed when it ends, however it ends. */
  const action =
    <A extends unknown[]>(body: (context: CommandContext, ...args: A) => Promise<void>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const ctx = context(command);
      try {
        await body(ctx, ...(args.slice(0, -1) as A));
      } finally {
        await ctx.session.close();
      }
    };

  program
    .command('import')
    .description('store a plain SQLite database file as a database (one commit); - reads stdin')
    .argument('<file>', 'the SQLite file, or - for stdin')
    .argument('<url>', 'the database to create')
    .option('-f, --force', 'replace a database that exists (its history is kept: the import is one more commit)')
    .option(
      '--block-size <bytes>',
      'block size on the store, for a new database (default: 65536 in the atomic layout, the page size in the direct one)',
      count('--block-size'),
    )
    .addOption(new Option('--layout <layout>', 'layout of a new database').choices(LAYOUTS as string[]))
    .action(
      action(async (ctx, file: string, url: string, options: { force?: boolean; blockSize?: number; layout?: Layout }) => {
        const target = await ctx.open(url);
        const progress = ctx.progress();
        const result = await importDatabase({
          store: target.store,
          name: target.name,
          label: url,
          source: file,
          ...options,
          onProgress: byteProgress(progress, 'import'),
        }).finally(() => progress.stop());
        ctx.note(
          `imported ${formatBytes(result.bytes)} (${result.pages} pages of ${result.pageSize} bytes) into ${url}` +
            (result.commit === undefined ? '' : ` as commit ${result.commit}`) +
            (result.convertedFromWal ? ' (a WAL-mode file, stored in rollback-journal mode)' : ''),
        );
      }),
    );

  program
    .command('export')
    .description('write a database as a plain SQLite file; - writes stdout')
    .argument('<url>', 'the database')
    .argument('<file>', 'the file to write, or - for stdout')
    .option('--as-of <commit|time>', 'the state after this commit number, at this time (2026-12-01T10:00Z) or this long ago (2h)', asOf)
    .option('-f, --force', 'replace an existing file')
    .action(
      action(async (ctx, url: string, file: string, options: { asOf?: number | Date; force?: boolean }) => {
        const target = await ctx.open(url);
        const progress = ctx.progress();
        const { bytes } = await exportDatabase({
          store: target.store,
          name: target.name,
          target: file,
          ...options,
          onProgress: byteProgress(progress, 'export'),
        }).finally(() => progress.stop());
        if (file !== '-') ctx.note(`exported ${formatBytes(bytes)} from ${url} to ${file}`);
      }),
    );

  program
    .command('cp')
    .description('copy a database to another store or name (one commit on the target)')
    .argument('<from>', 'the database to copy')
    .argument('<to>', 'the database to create')
    .option('--as-of <commit|time>', 'copy the state after this commit, at this time, or this long ago', asOf)
    .option('-f, --force', 'replace a database that exists at the target')
    .action(
      action(async (ctx, from: string, to: string, options: { asOf?: number | Date; force?: boolean }) => {
        const [source, target] = [await ctx.open(from), await ctx.open(to)];
        const progress = ctx.progress();
        const result = await copyDatabase({
          from: source,
          to: { store: target.store, name: target.name, label: to },
          ...options,
          onProgress: byteProgress(progress, 'copy'),
        }).finally(() => progress.stop());
        ctx.note(`copied ${formatBytes(result.bytes)} from ${from} to ${to}`);
      }),
    );

  program
    .command('sql')
    .description('run SQL: one statement (or several, separated by ;), or an interactive shell when none is given')
    .argument('<url>', 'the database')
    .argument('[statement]', 'SQL to run; without it, a shell (statements from stdin when it is not a terminal)')
    .addOption(new Option('--format <format>', 'how rows are printed').choices(RESULT_FORMATS as string[]).default('table'))
    .option('--create', 'create the database if it does not exist')
    .option('--read-only', 'open read-only')
    .option('--as-of <commit|time>', 'read the state after this commit, at this time, or this long ago (read-only)', asOf)
    .option('--page-size <bytes>', 'page size of a database created now', count('--page-size'))
    .action(
      action(
        async (
          ctx,
          url: string,
          statement: string | undefined,
          options: { format: ResultFormat; create?: boolean; readOnly?: boolean; asOf?: number | Date; pageSize?: number },
        ) => {
          const target = await ctx.open(url);
          const db = await openForSql(target, options);
          try {
            if (statement !== undefined) await runSql(db, statement, options.format, ctx.io.stdout);
            else await runShell({ db, url, format: options.format, io: ctx.io });
          } finally {
            await db.close();
          }
        },
      ),
    );

  registerInspectionCommands(program, action);
  return program;
}

export type Action = <A extends unknown[]>(body: (context: CommandContext, ...args: A) => Promise<void>) => (...args: unknown[]) => Promise<void>;

/** Progress of bytes: the reading phase of an import (the source) and its writing (what the store confirmed). */
function byteProgress(progress: Progress, verb: string): (event: ByteProgress) => void {
  return ({ phase, bytes, totalBytes }) => {
    progress.phase(phase === 'reading' && verb === 'import' ? 'reading' : verb, totalBytes);
    progress.update(bytes);
  };
}
