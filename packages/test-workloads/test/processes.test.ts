import { describe, expect, test } from 'vitest';
import { concurrentIncrements, fsChildStore, killWritersAtRandom } from '../src/index.js';
import { LOCAL_STORES } from './stores.js';

const fs = LOCAL_STORES.find((factory) => factory.label === 'fs')!;

/** Writers in processes of their own, on one folder (atomic layout). */
describe('writer processes on the fs store', () => {
  test('a writer killed with SIGKILL at random moments: the database reopens intact with every acknowledged commit', async () => {
    const { store, root, dispose } = await fs.create();
    try {
      const report = await killWritersAtRandom({ store, child: fsChildStore(root!), kills: 6, seed: 7 });
      console.log(`kill test on the fs store: ${JSON.stringify(report)}`);
      expect(report.acknowledged).toBeGreaterThan(6);
      expect(report.midCommit).toBeGreaterThan(0);
    } finally {
      await dispose();
    }
  }, 180_000);

  test('four processes increment one counter with the default busyTimeoutMs (lost commits run again by the Database): nothing lost, nothing doubled', async () => {
    const { store, root, dispose } = await fs.create();
    try {
      const report = await concurrentIncrements({ store, child: fsChildStore(root!), writers: 4, increments: 25 });
      console.log(`concurrent increments on the fs store: ${JSON.stringify(report)}`);
      expect(report.counter).toBe(100);
      expect(report.busy).toBeGreaterThanOrEqual(3); // the four writers' first increments collide
    } finally {
      await dispose();
    }
  }, 180_000);
});
