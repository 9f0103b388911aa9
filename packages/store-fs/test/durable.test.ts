import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

// Every directory fsync goes through node:fs/promises `open(dir, O_DIRECTORY|…)`: count
// them, and hold each one's sync until the test lets it finish.
const syncs = vi.hoisted(() => ({ started: 0, release: [] as Array<() => void> }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const { constants } = await import('node:fs');
  return {
    ...actual,
    open: async (...args: Parameters<typeof actual.open>) => {
      const handle = await actual.open(...args);
      if (typeof args[1] !== 'number' || (args[1] & constants.O_DIRECTORY) === 0) return handle;
      return Object.assign(Object.create(handle), {
        sync: async () => {
          syncs.started += 1;
          await new Promise<void>((resolve) => syncs.release.push(resolve));
          await handle.sync();
        },
        close: () => handle.close(),
      });
    },
  };
});

const { syncDir } = await import('../src/durable.js');

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
/** Waits until `condition` holds (file operations go through libuv's threads, slower on a busy machine). */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error('timed out waiting for the fsync to start');
    await tick();
  }
}
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('syncDir', () => {
  it('shares one fsync among the calls made while another runs, and never resolves a call with an fsync that started before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blockvfs-durable-'));
    roots.push(dir);
    const settled: string[] = [];
    const first = syncDir(dir).then(() => settled.push('first'));
    await until(() => syncs.started === 1);
    // Three calls while the first fsync runs: they wait for one fsync started after it.
    const later = [1, 2, 3].map((i) => syncDir(dir).then(() => settled.push(`later ${i}`)));
    await tick();
    expect(syncs.started).toBe(1);
    syncs.release.shift()?.(); // the first fsync finishes: only the first call is done
    await first;
    await until(() => syncs.started === 2); // the shared one starts
    expect(settled).toEqual(['first']);
    syncs.release.shift()?.();
    await Promise.all(later);
    expect(settled).toEqual(['first', 'later 1', 'later 2', 'later 3']);
    expect(syncs.started).toBe(2);
  });
});
