import type { Finding, GuaranteeId } from './guarantees.js';
import { runSeed, type SeedResult } from './run-seed.js';
import { STORE_OPS } from './sim-store.js';
import { drawSwarm, type OpKind, type SwarmOverrides } from './swarm.js';

/**
 * Shrinks a failing seed by hand's rules, greedily: each step switches one thing off
 * (faults, a fault kind, kills, late landings, an op kind, long thinks, a process,
 * half the ops…) and keeps the change when the seed still fails. What is left says what
 * the bug needs. The plan's ops and the store's fates are drawn from separate streams,
 * so switching one thing off leaves the rest of the run as it was, as far as it can.
 */

/**
 * Shrinks while the seed still fails the same way: a finding about `target` (default: the
 * guarantee of the first finding of the unshrunk run), so that one bug does not turn into
 * another on the way.
 */
export async function shrink(
  seed: number,
  start: SwarmOverrides = {},
  log: (line: string) => void = () => undefined,
  target?: GuaranteeId,
): Promise<{ overrides: SwarmOverrides; result: SeedResult }> {
  let overrides = start;
  let result = await runSeed(seed, { overrides });
  const wanted = target ?? result.findings[0]?.guarantee;
  const fails = (r: SeedResult): boolean => r.findings.some((finding: Finding) => finding.guarantee === wanted);
  if (!fails(result)) return { overrides, result };
  log(`shrinking seed ${seed} while it fails [${wanted}]`);
  const attempt = async (change: SwarmOverrides, what: string): Promise<void> => {
    const candidate = { ...overrides, ...change };
    const next = await runSeed(seed, { overrides: candidate });
    const kept = fails(next);
    log(`${kept ? 'still fails' : 'passes    '} with ${what}`);
    if (kept) {
      overrides = candidate;
      result = next;
    }
  };
  await attempt({ faultScale: 0 }, 'no faults');
  await attempt({ noKills: true }, 'no kills');
  await attempt({ noHangs: true }, 'no hangs');
  await attempt({ noLateLanding: true }, 'no late landings');
  if ((overrides.faultScale ?? 1) > 0) {
    for (const op of STORE_OPS) {
      const current = overrides.faultOps ?? [...STORE_OPS];
      if (current.length > 1 && current.includes(op)) await attempt({ faultOps: current.filter((o) => o !== op) }, `no faults on ${op}`);
    }
  }
  for (const kind of ['vacuum', 'gc', 'checkpoint', 'reopen', 'delete', 'idle', 'insert', 'increment', 'read'] as OpKind[]) {
    await attempt({ dropOps: [...(overrides.dropOps ?? []), kind] }, `no ${kind} ops`);
  }
  await attempt({ maxThinkMs: 0 }, 'no think time in transactions');
  if (overrides.maxThinkMs === undefined) await attempt({ maxThinkMs: 59_000 }, 'thinks under a minute');
  await attempt({ maxIdleMs: 2_000 }, 'idle pauses under 2 s');
  if (overrides.maxIdleMs === undefined) await attempt({ maxIdleMs: 59_000 }, 'idle pauses under a minute');
  for (const plan of drawSwarm(seed, overrides).processes) {
    const ids = (overrides.processes ?? drawSwarm(seed, overrides).processes.map((p) => p.id)).filter((id) => id !== plan.id);
    if (ids.length > 0) await attempt({ processes: ids }, `without process ${plan.id}`);
  }
  const longest = Math.max(...drawSwarm(seed, overrides).processes.flatMap((p) => p.lives.map((life) => life.ops.length)));
  for (let max = Math.floor(longest / 2); max >= 1; max = Math.floor(max / 2)) {
    const before = overrides.maxOps;
    await attempt({ maxOps: max }, `at most ${max} ops per life`);
    if (overrides.maxOps === before) break;
  }
  return { overrides, result };
}
