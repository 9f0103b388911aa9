import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat } from '../src/atomic/atomic-format.js';
import { PagedFile } from '@blockvfs/core/format';
import { isBlockVfsError, withMetrics, type BlockStore } from '@blockvfs/core';
import { withFaults, type FaultMode } from '@blockvfs/core/testing';
import { expectSameBytes, pattern } from './helpers.js';

/**
 * Crash at every request: a workload of commits (inline and not, growth, shrinking,
 * automatic checkpoints) runs once per request index N with the store failing at N.
 * Reopened without faults, the file must equal the state after exactly the
 * acknowledged commits, or after those plus the one in flight: all or nothing.
 */

const BLOCK_SIZE = 512;
const OPTIONS = { blockSize: BLOCK_SIZE, inlineLimit: 1024, checkpointEvery: 2 };

type Step = { write: [number, number, number] } | { truncate: number };

const WORKLOAD: Step[][] = [
  [{ write: [0, 3000, 1] }], // 6 blocks: uploaded as objects
  [{ write: [700, 100, 2] }], // 1 block: inline
  [{ truncate: 1800 }],
  [{ write: [2500, 2000, 3] }], // growth past a gap
  [{ write: [0, 10, 4] }, { write: [1790, 20, 5] }],
  [{ write: [1000, 5000, 6] }],
  [{ truncate: 300 }, { write: [300, 600, 7] }],
];

function applyStep(model: Uint8Array, step: Step): Uint8Array {
  if ('truncate' in step) return model.slice(0, step.truncate);
  const [offset, length, seed] = step.write;
  const next = new Uint8Array(Math.max(model.length, offset + length));
  next.set(model);
  next.set(pattern(length, seed), offset);
  return next;
}

/** The expected file after 0, 1, 2… commits. */
const STATES: Uint8Array[] = WORKLOAD.reduce<Uint8Array[]>(
  // biome-ignore lint/performance/noAccumulatingSpread: a few states, built once
  (states, steps) => [...states, steps.reduce(applyStep, states[states.length - 1] as Uint8Array)],
  [new Uint8Array(0)],
);

async function runStep(file: PagedFile, step: Step): Promise<void> {
  if ('truncate' in step) await file.truncate(step.truncate);
  else await file.write(pattern(step.write[1], step.write[2]), step.write[0]);
}

async function contents(store: BlockStore): Promise<Uint8Array> {
  const file = new PagedFile(await AtomicFormat.open(store, 'db', OPTIONS));
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

describe('atomic layout: crash at every request', () => {
  it('the workload alone makes a known number of requests', async () => {
    const store = withMetrics(new MemoryStore());
    const file = new PagedFile(await AtomicFormat.open(store, 'db', OPTIONS));
    for (const steps of WORKLOAD) {
      for (const step of steps) await runStep(file, step);
      await file.sync();
    }
    expectSameBytes(await contents(store), STATES[WORKLOAD.length] as Uint8Array);
    expect(store.metrics.list).toBe(2); // one per open (the writer's, then contents()'s): the check for a gap in the history
  });

  for (const mode of ['fail', 'fail-after'] as FaultMode[]) {
    it(`mode ${mode}: all or nothing at every request, and the writer carries on after the failure`, async () => {
      let total = 0;
      {
        const store = withMetrics(new MemoryStore());
        const file = new PagedFile(await AtomicFormat.open(store, 'db', OPTIONS));
        for (const steps of WORKLOAD) {
          for (const step of steps) await runStep(file, step);
          await file.sync();
        }
        const m = store.metrics;
        total = m.get + m.put + m.delete + m.list;
      }
      let inFlightLanded = 0;
      for (let n = 1; n <= total + 1; n++) {
        const inner = new MemoryStore();
        const store = withFaults(inner, { at: n, mode });
        let acknowledged = 0;
        let failed = false;
        let file: PagedFile | undefined;
        try {
          file = new PagedFile(await AtomicFormat.open(store, 'db', OPTIONS));
          for (const steps of WORKLOAD) {
            for (const step of steps) await runStep(file, step);
            await file.sync();
            acknowledged += 1;
          }
        } catch (error) {
          if (!isBlockVfsError(error, 'transient')) throw error;
          failed = true;
        }
        if (failed) expect(store.faults.injected).toBe(1);
        if (n > total) expect(failed).toBe(false);
        const after = await contents(inner);
        const ok = same(after, STATES[acknowledged] as Uint8Array);
        const withInFlight = failed && acknowledged < WORKLOAD.length && same(after, STATES[acknowledged + 1] as Uint8Array);
        if (withInFlight && !ok) inFlightLanded += 1;
        expect(ok || withInFlight, `request ${n}: ${acknowledged} acknowledged, file of ${after.length} bytes`).toBe(true);

        // The same writer, faults gone, redoes the failed commit's steps (they are idempotent:
        // the failure may have hit a read inside one) and finishes the workload.
        if (failed && file) {
          store.faults.disable();
          for (const steps of WORKLOAD.slice(acknowledged)) {
            for (const step of steps) await runStep(file, step);
            await file.sync();
          }
          expectSameBytes(await contents(inner), STATES[WORKLOAD.length] as Uint8Array, `request ${n}: after carrying on`);
        }
      }
      expect(total).toBeGreaterThan(20);
      // 'fail' never lands an unacknowledged commit: a failed record put was never made, and a
      // 'fail-after' record put is read back and acknowledged.
      expect(inFlightLanded).toBe(0);
    });
  }
});
