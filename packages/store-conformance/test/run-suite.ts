import type { BlockStore } from '@blockvfs/core';
import { defineStoreConformanceTests, type ConformanceOptions } from '@blockvfs/store-conformance';

export type Outcome = { status: 'pass' } | { status: 'skip'; reason: string } | { status: 'fail'; error: unknown };

/**
 * Runs the whole suite outside any framework, through a describe/it pair that only
 * collects cases, and returns each case's outcome by its full title ("group > case").
 * This is also what a framework does with the suite, minus reporting.
 */
export async function runSuite(createStore: () => BlockStore, options: Pick<ConformanceOptions, 'scale'> = {}): Promise<Map<string, Outcome>> {
  const cases: { title: string; body: (...args: unknown[]) => Promise<void> }[] = [];
  const path: string[] = [];
  defineStoreConformanceTests({
    ...options,
    createStore,
    describe: (name, body) => {
      path.push(name);
      body();
      path.pop();
    },
    it: (name, body) => {
      cases.push({ title: [...path.slice(1), name].join(' > '), body });
    },
  });
  const outcomes = new Map<string, Outcome>();
  for (const { title, body } of cases) {
    let skipped: string | undefined;
    try {
      await body({ skip: (reason: string) => (skipped = reason) });
      outcomes.set(title, skipped === undefined ? { status: 'pass' } : { status: 'skip', reason: skipped });
    } catch (error) {
      outcomes.set(title, { status: 'fail', error });
    }
  }
  return outcomes;
}

/** Titles of the cases with the given status. */
export function titles(outcomes: Map<string, Outcome>, status: Outcome['status']): string[] {
  return [...outcomes].filter(([, outcome]) => outcome.status === status).map(([title]) => title);
}
