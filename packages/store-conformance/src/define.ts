import { concurrencyCases } from './cases/concurrency.js';
import { conditionalCases } from './cases/conditional.js';
import { deleteCases } from './cases/delete.js';
import { listCases } from './cases/list.js';
import { objectCases } from './cases/objects.js';
import { rangeCases } from './cases/ranges.js';
import { Harness } from './harness.js';
import { resolveScale, type ConformanceOptions } from './options.js';

/**
 * Registers the BlockStore conformance suite with the caller's test framework: one
 * `describe` holding a group per area (objects, ranges, list, delete, conditional put,
 * concurrency), each case on a fresh store from `createStore`. Call it at the top level
 * of a test file, where `describe`/`it` may be called.
 */
export function defineStoreConformanceTests(options: ConformanceOptions): void {
  const scale = resolveScale(options.scale);
  const h = new Harness(options, scale);
  options.describe(`BlockStore conformance${options.name ? `: ${options.name}` : ''}`, () => {
    objectCases(h);
    rangeCases(h);
    listCases(h);
    deleteCases(h);
    conditionalCases(h);
    concurrencyCases(h);
  });
}
