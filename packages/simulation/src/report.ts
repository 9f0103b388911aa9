import { GUARANTEES } from './guarantees.js';
import type { SeedResult } from './run-seed.js';
import { describeSwarm, type SwarmOverrides } from './swarm.js';

/** The command that replays a seed (with the same overrides). */
export function replayCommand(seed: number, overrides?: SwarmOverrides): string {
  const extra = overrides && Object.keys(overrides).length > 0 ? ` --overrides '${JSON.stringify(overrides)}'` : '';
  return `pnpm test:sim --seed ${seed}${extra}`;
}

/** A failing (or, verbose, any) seed for humans: what it ran, what broke, the trace's tail, how to replay it. */
export function formatResult(result: SeedResult, options: { traceLines?: number; overrides?: SwarmOverrides } = {}): string {
  const lines: string[] = [];
  const s = result.stats;
  lines.push(
    `seed ${result.seed}: ${result.ok ? 'ok' : `${result.findings.length} finding(s)`} — ${s.commits} commits, ops ${JSON.stringify(s.ops)}, ` +
      `${s.requests} requests (${s.faults} faulted), ${s.events} events, ${(s.virtualMs / 60_000).toFixed(1)} virtual min, ${s.wallMs} ms`,
  );
  for (const line of describeSwarm(result.swarm)) lines.push(`  ${line}`);
  for (const finding of result.findings) {
    lines.push(`  FINDING [${finding.guarantee}, ${GUARANTEES[finding.guarantee].section}] at ${finding.at} ms: ${finding.message}`);
  }
  for (const use of result.realTime) lines.push(`  REAL TIME used by the code under test: ${use.what}\n${use.stack.replace(/^/gm, '      ')}`);
  const keep = options.traceLines ?? 40;
  const tail = keep > 0 ? result.traceTail.slice(-keep) : [];
  if (!result.ok && tail.length > 0) {
    lines.push(`  trace up to the first finding (last ${tail.length} lines; trace hash ${result.traceHash}):`);
    for (const line of tail) lines.push(`    ${line}`);
  }
  if (!result.ok) lines.push(`  replay: ${replayCommand(result.seed, options.overrides)}`);
  return lines.join('\n');
}
