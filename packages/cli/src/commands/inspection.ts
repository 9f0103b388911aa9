import type { Command } from 'commander';
import {
  collectGarbage,
  DEFAULT_GRACE_MS,
  hasAtomicDatabase,
  inspectDatabase,
  listCommits,
  restoreCommit,
  type DatabaseInfo,
  type ObjectTally,
} from '@blockvfs/core';
import { CliError, EXIT } from '../errors.js';
import { formatBytes } from '../progress.js';
import { formatRows } from '../result-format.js';
import { copyDatabase, databaseExists } from '../transfer.js';
import { verifyDatabase } from '../verify.js';
import { asOf, count, duration } from '../option-values.js';
import type { Action, CommandContext } from '../program.js';
import type { Target } from '../session.js';

/** The commands that look at a database's history and objects: info, log, gc, restore, verify. */

/** The CLI's default retention for `gc`: a day of history, as the issue's operators expect from Litestream. */
export const DEFAULT_CLI_RETENTION = '24h';

export function registerInspectionCommands(program: Command, action: Action): void {
  program
    .command('info')
    .description('what a database is and holds: layout, sizes, commits, checkpoints, objects by kind, the lease')
    .argument('<url>', 'the database')
    .option('--json', 'print the library’s report (inspectDatabase) as JSON')
    .action(
      action(async (ctx, url: string, options: { json?: boolean }) => {
        const target = await ctx.open(url);
        const info = await inspectDatabase({ store: target.store, name: target.name }).catch(notFoundAt(target));
        ctx.io.stdout(options.json ? `${toJson(info)}\n` : describeInfo(url, info));
      }),
    );

  program
    .command('log')
    .description('the commits a database keeps (those --as-of can reach), newest first')
    .argument('<url>', 'the database (atomic layout)')
    .option('-n, --limit <count>', 'only the newest <count>', count('--limit'))
    .option('--json', 'print JSON (listCommits)')
    .action(
      action(async (ctx, url: string, options: { limit?: number; json?: boolean }) => {
        const target = await atomicTarget(ctx, url);
        const commits = await listCommits({ store: target.store, name: target.name, ...(options.limit === undefined ? {} : { limit: options.limit }) });
        if (options.json) return ctx.io.stdout(`${toJson(commits)}\n`);
        const rows = commits.map((c) => ({
          commit: c.seq,
          time: new Date(c.time).toISOString(),
          size: formatBytes(c.size),
          'blocks written': c.blocksWritten === undefined ? '(checkpoint only)' : `${c.blocksWritten}${c.inlineBlocks ? ` (${c.inlineBlocks} inline)` : ''}`,
        }));
        ctx.io.stdout(formatRows(rows, 'table'));
      }),
    );

  program
    .command('gc')
    .description('delete what no kept commit needs: replaced blocks, old commit records and checkpoints')
    .argument('<url>', 'the database (atomic layout)')
    .option('--retention <duration>', 'keep every commit of this long ago and since (90s, 15m, 24h, 7d)', duration('--retention'), 24 * 3_600_000)
    .option(
      '--grace <duration>',
      `keep what a reader of an older commit may still read, this long (default ${DEFAULT_GRACE_MS / 60_000}m, at least 2m)`,
      duration('--grace'),
    )
    .option('-n, --dry-run', 'report what would be deleted; delete nothing')
    .option('--json', 'print the report (collectGarbage) as JSON')
    .action(
      action(async (ctx, url: string, options: { retention: number; grace?: number; dryRun?: boolean; json?: boolean }) => {
        const target = await atomicTarget(ctx, url);
        const progress = ctx.progress('objects');
        const report = await collectGarbage({
          store: target.store,
          name: target.name,
          retentionMs: options.retention,
          ...(options.grace === undefined ? {} : { graceMs: options.grace }),
          dryRun: options.dryRun === true,
          onProgress: ({ phase, objects }) => {
            progress.phase(phase);
            progress.update(objects);
          },
        }).finally(() => progress.stop());
        if (options.json) return ctx.io.stdout(`${toJson({ dryRun: options.dryRun === true, ...report })}\n`);
        const { deleted } = report;
        const verb = options.dryRun ? 'would delete' : 'deleted';
        ctx.io.stdout(
          `${verb} ${deleted.blocks} block objects, ${deleted.records} commit records and ${deleted.checkpoints} checkpoints: ` +
            `${formatBytes(deleted.bytes)} ${options.dryRun ? 'would be ' : ''}freed\n` +
            `kept commits ${report.oldestKept || 1} to ${report.latest} (${report.kept.blocks} block objects` +
            `${report.kept.pending ? `, ${report.kept.pending} of commits in progress` : ''})\n`,
        );
      }),
    );

  program
    .command('restore')
    .description('make an older state the newest commit (the history in between is kept), or copy it to another database')
    .argument('<url>', 'the database (atomic layout)')
    .requiredOption('--as-of <commit|time>', 'the commit number, a time (2026-12-01T10:00Z), or how long ago (2h)', asOf)
    .option('--to <url>', 'copy that state to this database instead of changing <url>')
    .option('-f, --force', 'with --to: replace a database that exists there')
    .action(
      action(async (ctx, url: string, options: { asOf: number | Date; to?: string; force?: boolean }) => {
        const target = await atomicTarget(ctx, url);
        if (options.to !== undefined) {
          const to = await ctx.open(options.to);
          const progress = ctx.progress();
          const result = await copyDatabase({
            from: target,
            to: { store: to.store, name: to.name, label: options.to },
            asOf: options.asOf,
            ...(options.force === undefined ? {} : { force: options.force }),
            onProgress: ({ phase, bytes, totalBytes }) => {
              progress.phase(phase === 'reading' ? 'reading' : 'restore', totalBytes);
              progress.update(bytes);
            },
          }).finally(() => progress.stop());
          ctx.io.stdout(`copied the state as of ${describeAsOf(options.asOf)} (${formatBytes(result.bytes)}) to ${options.to}\n`);
          return;
        }
        if (options.force) throw new CliError('--force goes with --to (a restore in place keeps the history: nothing is overwritten)', EXIT.usage);
        const report = await restoreCommit({ store: target.store, name: target.name, asOf: options.asOf });
        ctx.io.stdout(
          report.commit === 0
            ? `${url} already is in the state of commit ${report.restored}: nothing to do\n`
            : `restored the state of commit ${report.restored} as commit ${report.commit} (${report.blocksWritten} blocks written, ${formatBytes(report.size)})\n`,
        );
      }),
    );

  program
    .command('verify')
    .description('check a database: PRAGMA integrity_check, every object’s checksum, every named block present (exit status 5 when damaged)')
    .argument('<url>', 'the database')
    .option('--json', 'print the report as JSON')
    .option('--no-integrity-check', 'check the objects only, not SQLite’s integrity_check')
    .action(
      action(async (ctx, url: string, options: { json?: boolean; integrityCheck: boolean }) => {
        const target = await ctx.open(url);
        if (!(await databaseExists(target.store, target.name))) throw new CliError(`there is no database at ${url}`, EXIT.notFound);
        const progress = ctx.progress('objects');
        const report = await verifyDatabase({
          store: target.store,
          name: target.name,
          integrityCheck: options.integrityCheck,
          onProgress: ({ phase, totalObjects, objects }) => {
            if (phase !== 'blocks') return;
            progress.phase('verify blocks', totalObjects);
            progress.update(objects);
          },
        }).finally(() => progress.stop());
        if (options.json) ctx.io.stdout(`${toJson(report)}\n`);
        else {
          const { checked } = report;
          ctx.io.stdout(
            `${report.ok ? 'ok' : 'DAMAGED'}: ${report.layout} layout; checked ${checked.records} commit records, ${checked.checkpoints} checkpoints, ` +
              `${checked.blocks} block objects (${formatBytes(checked.bytes)})${report.integrity === undefined ? '' : `; integrity_check: ${report.integrity.join('; ')}`}\n` +
              report.problems.map((problem) => `  ${problem}\n`).join(''),
          );
        }
        if (!report.ok) throw new CliError(`${url} is damaged (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`, EXIT.damaged);
      }),
    );
}

/** A target that must hold an atomic-layout database: the commands about history need one. */
async function atomicTarget(ctx: CommandContext, url: string): Promise<Target> {
  const target = await ctx.open(url);
  // Two small requests, not inspectDatabase's whole history: the command reads what it needs itself.
  if (await hasAtomicDatabase(target.store, target.name)) return target;
  if (await databaseExists(target.store, target.name)) throw new CliError(`${url} is a direct-layout database, which keeps no history`, EXIT.usage);
  throw new CliError(`there is no database at ${url}`, EXIT.notFound);
}

/** A library `not-found` said with the URL the user typed. */
function notFoundAt(target: Target): (error: unknown) => never {
  return (error) => {
    if ((error as { kind?: unknown })?.kind === 'not-found') throw new CliError(`there is no database at ${target.url.url}`, EXIT.notFound, { cause: error });
    throw error;
  };
}

/** JSON with `null` for what is absent, so that every field is there for a script to read. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? null : v), 2);
}

function describeAsOf(value: number | Date): string {
  return typeof value === 'number' ? `commit ${value}` : value.toISOString();
}

function describeInfo(url: string, info: DatabaseInfo): string {
  const time = (ms: number) => new Date(ms).toISOString();
  const tally = (label: string, t: ObjectTally) => `${label} ${t.count} (${formatBytes(t.bytes)})`;
  const { objects } = info;
  const lines: Array<[string, string]> = [
    ['database', url],
    ['layout', info.layout],
    ['page size', info.pageSize === undefined ? '(not an SQLite file)' : `${info.pageSize} bytes`],
    ['block size', `${info.blockSize} bytes`],
    ['size', `${formatBytes(info.size)} (${info.size} bytes${info.pageCount === undefined ? '' : `, ${info.pageCount} pages`})`],
  ];
  if (info.layout === 'atomic') {
    lines.push(['commit', info.commit ? `${info.commit.seq} at ${time(info.commit.time)}` : 'none']);
    lines.push(['checkpoints', info.checkpoints.length ? info.checkpoints.join(', ') : 'none']);
    lines.push(['oldest kept', info.oldestKept ? `commit ${info.oldestKept.seq} at ${time(info.oldestKept.time)}` : 'none']);
  }
  lines.push([
    'objects',
    [
      tally('blocks', objects.blocks),
      tally('commit records', objects.records),
      tally('checkpoints', objects.checkpoints),
      tally('garbage', objects.garbage),
      tally('other', objects.other),
    ].join(', '),
  ]);
  lines.push(['total', `${objects.total.count} objects, ${formatBytes(objects.total.bytes)}`]);
  if (info.layout === 'atomic') {
    lines.push(['lease', info.lease ? `${info.lease.held ? 'held' : 'free (expired)'} by ${info.lease.owner}, until ${time(info.lease.expires)}` : 'none']);
  }
  const width = Math.max(...lines.map(([label]) => label.length));
  return lines.map(([label, value]) => `${label.padEnd(width)}  ${value}\n`).join('');
}
