import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GUARANTEES, runSeed, type StoreMutation, type SwarmOverrides } from '../src/index.js';
import { bodyOf, invariantProblems, type DbState } from '../src/schema.js';

/**
 * The oracle must see what it claims to. Each mutation breaks the simulated store in
 * one way a real bug could (a commit acknowledged but not stored, a stale read, a
 * create-if-absent that overwrites) and the same seeds, which pass on an honest store,
 * must then report findings.
 */

/** Seeds that avoid the code's known bugs (no faults, no transaction outliving the view's trust window, no kills), so that a finding is the mutation's. */
const CALM: SwarmOverrides = { faultScale: 0, maxThinkMs: 30_000, noKills: true };

async function detections(mutation: StoreMutation, seeds: number[]): Promise<{ clean: number; detected: number[]; guarantees: Set<string> }> {
  let clean = 0;
  const detected: number[] = [];
  const guarantees = new Set<string>();
  for (const seed of seeds) {
    const honest = await runSeed(seed, { overrides: CALM });
    if (!honest.ok) continue; // a seed the honest store already fails proves nothing here
    clean += 1;
    const broken = await runSeed(seed, { overrides: CALM, mutation });
    if (!broken.ok) {
      detected.push(seed);
      for (const finding of broken.findings) guarantees.add(finding.guarantee);
    }
  }
  return { clean, detected, guarantees };
}

describe('the oracle sees a broken store', () => {
  const seeds = Array.from({ length: 8 }, (_, i) => i + 1);

  it('a commit record acknowledged but never stored: acknowledged ops go missing', async () => {
    const { clean, detected, guarantees } = await detections('ack-without-record', seeds);
    expect(clean).toBeGreaterThan(3);
    expect(detected.length).toBeGreaterThanOrEqual(clean - 1);
    expect([...guarantees]).toContain('durable');
  }, 120_000);

  it('a stale read of the head or a record: readers miss acknowledged commits', async () => {
    const { clean, detected } = await detections('stale-read', seeds);
    expect(clean).toBeGreaterThan(3);
    expect(detected.length).toBeGreaterThan(0);
  }, 120_000);

  it('a create-if-absent that overwrites: two writers both commit the same seq', async () => {
    const { clean, detected, guarantees } = await detections('ignore-create-condition', seeds);
    expect(clean).toBeGreaterThan(3);
    expect(detected.length).toBeGreaterThan(0);
    expect([...guarantees]).toContain('conditions'); // the format monitor sees the second creation itself
  }, 120_000);
});

describe('state invariants', () => {
  const state = (): DbState => ({
    ops: new Map([
      [1, { op: 1, kind: 'insert-small', proc: 'p1.0', target: null, seen: null }],
      [2, { op: 2, kind: 'increment', proc: 'p1.0', target: 1, seen: 0 }],
      [3, { op: 3, kind: 'increment', proc: 'p2.0', target: 1, seen: 1 }],
    ]),
    items: new Map([[1, { length: 100, body: bodyOf(1, 'insert-small') }]]),
    counters: new Map([[1, 2]]),
  });

  it('accept a state made of whole transactions', () => {
    expect(invariantProblems(state())).toEqual([]);
  });

  it('see a damaged body, an item without its op, an op without its item', () => {
    const damaged = state();
    const body = bodyOf(1, 'insert-small').slice();
    body[50] = (body[50] as number) ^ 1;
    damaged.items.set(1, { length: 100, body });
    expect(invariantProblems(damaged).map((p) => p.message)).toEqual([expect.stringMatching(/body is damaged/)]);

    const orphan = state();
    orphan.items.set(9, { length: 100, body: bodyOf(9, 'insert-small') });
    expect(invariantProblems(orphan).map((p) => p.guarantee)).toEqual(['allOrNothing']);

    const lost = state();
    lost.items.delete(1);
    expect(invariantProblems(lost).map((p) => p.message)).toEqual([expect.stringMatching(/item is missing/)]);
  });

  it('see a lost or doubled read-modify-write', () => {
    const doubled = state();
    doubled.ops.set(3, { op: 3, kind: 'increment', proc: 'p2.0', target: 1, seen: 0 });
    expect(invariantProblems(doubled).map((p) => p.guarantee)).toEqual(['oneWriter']);
    const lost = state();
    lost.counters.set(1, 1);
    expect(invariantProblems(lost).map((p) => p.guarantee)).toEqual(['oneWriter']);
  });
});

describe('the guarantee table', () => {
  it('the README lists every guarantee the findings name, with its check', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const [id, guarantee] of Object.entries(GUARANTEES)) {
      expect(readme).toContain(`| \`${id}\` | ${guarantee.section} | ${guarantee.promise.replace(/\|/g, '\\|')} | ${guarantee.check.replace(/\|/g, '\\|')} |`);
    }
  });
});
