#!/usr/bin/env node
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Finding, GuaranteeId } from './guarantees.js';
import { formatResult, replayCommand } from './report.js';
import { WedgedError, runSeed, type SeedResult } from './run-seed.js';
import { shrink } from './shrink.js';
import { drawSwarm, type SwarmOverrides } from './swarm.js';

/**
 * `pnpm test:sim --seeds N [--from S] [--jobs J]`: runs seeds S … S+N−1 in J child
 * processes (each loads the SQLite module once and runs its seeds one after the other),
 * prints progress (seeds/s, findings), then every failing seed with the command that
 * replays it; exits 1 on any finding. `pnpm test:sim --seed S` runs one seed here and
 * prints everything about it: the swarm, the findings, the tail of the trace.
 */

const USAGE = `usage: pnpm test:sim [--seeds N] [--from S] [--jobs J] [--seed S] [--overrides JSON] [--trace LINES] [--json FILE] [--verbose]
  --seeds N      run N seeds (default 100) starting at --from (default 1)
  --jobs J       child processes (default 2)
  --seed S       run seed S alone and print its swarm, findings and trace
  --overrides J  change the drawn swarm, e.g. '{"faultOps":["get"],"noKills":true}' (see SwarmOverrides)
  --trace N      trace lines to print for a failing seed (default 60)
  --json FILE    write every seed's result summary to FILE
  --shrink       with --seed: switch things off one at a time while the seed still fails, and print what is left
  --for ID       with --shrink: keep failing with a finding of this guarantee (default: that of the first finding)
  --only KIND    among those seeds, run only the swarms of one kind: classic, storm, shrinking or restores
  --verbose      print every seed, not only failing ones`;

interface Summary {
  seed: number;
  ok: boolean;
  findings: Finding[];
  report: string;
  wallMs: number;
  rss: number;
  commits: number;
  requests: number;
  realTime: number;
  wedged?: boolean;
}

/** A failing seed in one line: its first finding, or the real time the code under test used. */
function failureLabel(summary: Summary): string {
  const first = summary.findings[0];
  if (first) return `[${first.guarantee}] ${first.message}`;
  return `[real time] the code under test used real time ${summary.realTime} time(s) (the report shows where)`;
}

function summarize(result: SeedResult, overrides: SwarmOverrides | undefined, traceLines: number): Summary {
  return {
    seed: result.seed,
    ok: result.ok && result.realTime.length === 0,
    findings: result.findings,
    report: formatResult(result, { traceLines, ...(overrides ? { overrides } : {}) }),
    wallMs: result.stats.wallMs,
    rss: process.memoryUsage().rss,
    commits: result.stats.commits,
    requests: result.stats.requests,
    realTime: result.realTime.length,
  };
}

async function runOne(seed: number, overrides: SwarmOverrides | undefined, traceLines: number): Promise<Summary> {
  try {
    return summarize(await runSeed(seed, { ...(overrides ? { overrides } : {}), traceTail: traceLines }), overrides, traceLines);
  } catch (error) {
    const wedged = error instanceof WedgedError;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return {
      seed,
      ok: false,
      findings: [{ guarantee: 'progress', message, at: 0 }],
      report: `seed ${seed}: ${message}\n  replay: ${replayCommand(seed, overrides)}`,
      wallMs: 0,
      rss: process.memoryUsage().rss,
      commits: 0,
      requests: 0,
      realTime: 0,
      wedged,
    };
  }
}

/** A child process: runs the seeds it is sent, one message back per seed. */
function worker(overrides: SwarmOverrides | undefined, traceLines: number): void {
  process.on('message', (message: { seeds?: number[] }) => {
    void (async () => {
      for (const seed of message.seeds ?? []) {
        const summary = await runOne(seed, overrides, traceLines);
        process.send?.(summary);
        if (summary.wedged) process.exit(3); // the parent starts another worker for the rest
      }
      process.send?.({ idle: true });
    })();
  });
  process.send?.({ idle: true });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      jobs: { type: 'string' },
      seed: { type: 'string' },
      overrides: { type: 'string' },
      trace: { type: 'string' },
      json: { type: 'string' },
      verbose: { type: 'boolean' },
      shrink: { type: 'boolean' },
      only: { type: 'string' },
      for: { type: 'string' },
      worker: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const overrides = values.overrides ? (JSON.parse(values.overrides) as SwarmOverrides) : undefined;
  const traceLines = Number(values.trace ?? 60);
  if (values.worker) {
    worker(overrides, traceLines);
    return -1; // stays alive, driven by messages
  }
  if (values.seed !== undefined && values.shrink) {
    const target = values.for as GuaranteeId | undefined;
    const { overrides: minimal, result } = await shrink(Number(values.seed), overrides ?? {}, (line) => console.log(`  ${line}`), target);
    console.log(formatResult(result, { traceLines: Number(values.trace ?? 120), overrides: minimal }));
    return result.ok ? 0 : 1;
  }
  if (values.seed !== undefined) {
    const summary = await runOne(Number(values.seed), overrides, Number(values.trace ?? 120));
    console.log(summary.report);
    return summary.ok ? 0 : 1;
  }
  const count = Number(values.seeds ?? 100);
  const from = Number(values.from ?? 1);
  const only = values.only;
  if (only !== undefined && only !== 'classic' && only !== 'storm' && only !== 'shrinking' && only !== 'restores')
    throw new Error(`--only takes classic, storm, shrinking or restores, not ${only}`);
  const seeds = Array.from({ length: count }, (_, i) => from + i).filter((seed) => only === undefined || drawSwarm(seed, overrides)[only]);
  if (seeds.length === 0) return 0;
  const jobs = Math.max(1, Math.min(Number(values.jobs ?? 2), seeds.length));
  const results = await runPool(seeds, jobs, overrides, traceLines, values.verbose ?? false);
  const failing = results.filter((r) => !r.ok).sort((a, b) => a.seed - b.seed);
  if (values.json)
    writeFileSync(
      values.json,
      JSON.stringify(
        results.map(({ report, ...rest }) => ({ ...rest, report: rest.ok ? undefined : report })),
        null,
        1,
      ),
    );
  if (failing.length > 0) {
    const full = values.verbose ? failing.length : 3;
    console.log(`\n${failing.length} failing seed(s)${failing.length > full ? `; the first ${full} in full` : ''}:\n`);
    for (const r of failing.slice(0, full)) console.log(`${r.report}\n`);
    for (const r of failing.slice(full)) console.log(`seed ${r.seed}: ${failureLabel(r)}  —  ${replayCommand(r.seed, overrides)}`);
    const byGuarantee = new Map<string, number[]>();
    for (const r of failing) for (const g of new Set(r.findings.map((f) => f.guarantee))) byGuarantee.set(g, [...(byGuarantee.get(g) ?? []), r.seed]);
    console.log('failing seeds by guarantee:');
    for (const [g, list] of byGuarantee) console.log(`  ${g}: ${list.length} seed(s): ${list.slice(0, 30).join(' ')}${list.length > 30 ? ' …' : ''}`);
  }
  return failing.length > 0 ? 1 : 0;
}

async function runPool(seeds: number[], jobs: number, overrides: SwarmOverrides | undefined, traceLines: number, verbose: boolean): Promise<Summary[]> {
  const started = performance.now();
  const results: Summary[] = [];
  const queue = [...seeds];
  const crashes = new Map<number, number>();
  const batch = 5;
  let lastPrint = started;
  const progress = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastPrint < 5000) return;
    lastPrint = now;
    const seconds = (now - started) / 1000;
    const failing = results.filter((r) => !r.ok).length;
    const rss = Math.max(...results.slice(-jobs * 2).map((r) => r.rss), 0);
    console.log(
      `${results.length}/${seeds.length} seeds, ${(results.length / seconds).toFixed(1)} seeds/s (${(results.length / seconds / jobs).toFixed(1)} per job), ` +
        `${failing} failing, ${seconds.toFixed(0)} s, worker rss ${(rss / 2 ** 20).toFixed(0)} MiB`,
    );
  };
  const script = fileURLToPath(import.meta.url);
  const args = ['--worker', ...(overrides ? ['--overrides', JSON.stringify(overrides)] : []), '--trace', String(traceLines)];
  await new Promise<void>((resolve) => {
    let live = 0;
    const start = (): void => {
      live += 1;
      const child: ChildProcess = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let assigned: number[] = [];
      child.on('message', (message: Summary | { idle: true }) => {
        if ('idle' in message) {
          assigned = queue.splice(0, batch);
          if (assigned.length === 0) child.kill();
          else child.send({ seeds: assigned });
          return;
        }
        assigned = assigned.filter((seed) => seed !== message.seed);
        results.push(message);
        if (verbose) console.log(message.report);
        else if (!message.ok) console.log(`seed ${message.seed} FAILS: ${failureLabel(message)}`);
        progress();
      });
      child.on('exit', () => {
        live -= 1;
        // A wedged or crashed worker's unfinished seeds go to a new one; a seed that crashed a worker twice is a finding.
        for (const seed of assigned) {
          const tries = (crashes.get(seed) ?? 0) + 1;
          crashes.set(seed, tries);
          if (tries < 2) queue.unshift(seed);
          else
            results.push({
              seed,
              ok: false,
              findings: [{ guarantee: 'progress', message: 'the worker running it died', at: 0 }],
              report: `seed ${seed}: the worker running it died twice\n  replay: ${replayCommand(seed, overrides)}`,
              wallMs: 0,
              rss: 0,
              commits: 0,
              requests: 0,
              realTime: 0,
            });
        }
        if (queue.length > 0) start();
        else if (live === 0) resolve();
      });
    };
    for (let i = 0; i < jobs; i++) start();
  });
  progress(true);
  return results;
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
