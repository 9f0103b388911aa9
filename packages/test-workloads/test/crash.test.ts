import { describe, expect, test } from 'vitest';
import { crashAtEveryRequest } from '../src/index.js';
import { LOCAL_STORES } from './stores.js';

/**
 * Crash at every request of a mixed workload (see crash.ts), in the atomic layout, at
 * every request index, in both modes: the store dies at N, or request N happens but
 * its answer is lost. (The direct layout's hot-journal recovery is tested in
 * vfs-wasqlite's faults test.)
 */
describe.each(LOCAL_STORES)('atomic layout on the $label store: crash at every request', (factory) => {
  test('every request index, both modes: integrity ok, exactly the acknowledged commits (plus perhaps the one in flight)', async () => {
    const report = await crashAtEveryRequest({ create: () => factory.create() });
    console.log(`crash test on the ${factory.label} store: ${JSON.stringify(report)}`);
    expect(report.requests).toBeGreaterThan(30);
    expect(report.tried).toEqual({ crash: report.requests, 'fail-after': report.requests });
    expect(report.surfaced.crash).toBe(report.requests); // a dead store stops the workload wherever it dies
  }, 600_000);
});
