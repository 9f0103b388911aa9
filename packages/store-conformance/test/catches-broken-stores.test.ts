import { describe, expect, it } from 'vitest';
import { runSuite, titles } from './run-suite.js';
import { ToyStore, type ToyBugs } from './toy-store.js';

// Small scale: these runs check that the right case fails, not the store's stamina.
const scale = { listKeys: 300, racers: 8, bigObjectBytes: 256 * 1024 };

describe('the conformance suite itself', () => {
  it('passes a correct store, skipping only what its capabilities rule out', async () => {
    const outcomes = await runSuite(() => new ToyStore(), { scale });
    const failures = [...outcomes].filter(([, o]) => o.status === 'fail');
    expect(failures.map(([title, o]) => `${title}: ${o.status === 'fail' ? String(o.error) : ''}`)).toEqual([]);
    expect(titles(outcomes, 'skip')).toEqual(['without conditional put > a condition the store cannot honour is refused, never applied as a plain put']);
    expect(outcomes.size).toBeGreaterThan(25);
  });

  // Each bug must be caught by the case written for it (other cases may fail too).
  const bugs: [keyof ToyBugs, string][] = [
    ['racyConditions', 'concurrency > writers racing on create-if-absent of one key'],
    ['racyConditions', 'concurrency > updates racing with ifMatch from the same etag'],
    ['unsortedList', 'list > lists thousands of keys in lexicographic order'],
    ['ignoreStartAfter', 'list > stopping a listing early is fine'],
    ['sharedBuffers', 'objects > put copies its input'],
    ['rangePastEndUndefined', 'ranges > reads ranges at the edges'],
    ['tornWrites', 'concurrency > readers running beside writers see whole versions'],
    ['plainErrors', 'conditional put (capabilities.conditionalPut) > ifNoneMatch "*" on a present key fails'],
    ['deleteMissingThrows', 'delete > deleting missing keys, an empty list or the same key twice is fine'],
    ['emptyIsMissing', 'objects > round-trips an empty object'],
    ['listEtagDiffers', 'list > lists thousands of keys'],
    ['ignoresConditions', 'without conditional put > a condition the store cannot honour is refused'],
  ];
  it.each(bugs)('catches a store with %s in "%s"', async (bug, caseTitle) => {
    const outcomes = await runSuite(() => new ToyStore({ [bug]: true }), { scale });
    const failed = titles(outcomes, 'fail');
    expect(
      failed.some((title) => title.startsWith(caseTitle)),
      `failed cases: ${JSON.stringify(failed)}`,
    ).toBe(true);
  });

  it('skips the conditional cases, visibly, on a store without conditional put', async () => {
    const outcomes = await runSuite(() => new ToyStore({ ignoresConditions: true }), { scale });
    const skipped = titles(outcomes, 'skip');
    expect(skipped.length).toBeGreaterThanOrEqual(9);
    expect(skipped.every((title) => /conditional put|racing|concurrent creates/.test(title))).toBe(true);
    const reasons = [...outcomes.values()].flatMap((o) => (o.status === 'skip' ? [o.reason] : []));
    expect(new Set(reasons)).toEqual(new Set(['capabilities.conditionalPut is false']));
  });
});
